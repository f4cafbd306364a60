using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Auth;

namespace EdgeRelay.Turn;

public sealed partial class TurnServer
{
    /// <summary>How many sources and user names the limiters remember at most (a few hundred KB).</summary>
    private const int MaxLimitedKeys = 16384;

    /// <summary>401 and 438 answers per client address (an IPv6 client by its /64): the challenge costs
    /// nothing to ask for, so it is what a spoofed flood would reflect, and what a password guesser needs.</summary>
    private TokenBuckets<TransportAddress> _challenges = null!;

    /// <summary>Failed integrity checks per user name: what a password guesser spends.</summary>
    private TokenBuckets<string> _failedLogins = null!;

    private void CreateRateLimits(TurnServerOptions options)
    {
        _challenges = new TokenBuckets<TransportAddress>(options.ChallengeBurstPerAddress, options.ChallengesPerSecondPerAddress, MaxLimitedKeys);
        _failedLogins = new TokenBuckets<string>(options.FailedLoginBurstPerUser, options.FailedLoginsPerMinutePerUser / 60.0, MaxLimitedKeys);
    }

    /// <summary>
    /// The key of a client's address for the limits: the address without the port (a client, or an attacker,
    /// picks ports freely), and for IPv6 the /64 prefix, which is what one subscriber gets (RFC 6177).
    /// </summary>
    private static TransportAddress LimitKey(in TransportAddress client)
    {
        if (client.IsIPv4)
        {
            return client.WithPort(0);
        }
        Span<byte> address = stackalloc byte[16];
        client.WriteAddressBytes(address);
        address[8..].Clear();
        return TransportAddress.FromIPv6(address, 0);
    }

    /// <summary>
    /// A client that holds an allocation on this five-tuple is never limited: its refreshes and 438
    /// retries keep a call alive. The others get a challenge while their address has tokens left.
    /// </summary>
    private bool MayChallenge(in FiveTuple fiveTuple, long now)
    {
        if (_allocations.ContainsKey(fiveTuple) || _challenges.TryTake(LimitKey(fiveTuple.Client), now))
        {
            return true;
        }
        Counters.ChallengesRateLimited++;
        return false;
    }

    /// <summary>
    /// Whether the client of <paramref name="allocation"/> may make one more request now: a Refresh storm on
    /// one allocation gets no answers beyond its bucket, while every other client is served as before.
    /// </summary>
    private bool MayRequest(Allocation allocation, long now)
    {
        if (allocation.RequestBudget.TryTake(_options.RequestBurstPerAllocation, _options.RequestsPerSecondPerAllocation, now))
        {
            return true;
        }
        Counters.AllocationRequestsRateLimited++;
        return false;
    }

    /// <summary>Whether <paramref name="username"/> has spent its failed logins: new clients trying it are not answered for a while.</summary>
    private bool IsLoginLimited(in FiveTuple fiveTuple, string username, long now)
    {
        if (_allocations.ContainsKey(fiveTuple) || !_failedLogins.IsEmpty(username, now))
        {
            return false;
        }
        Counters.LoginsRateLimited++;
        return true;
    }

    private void CountFailedLogin(string username, long now) => _failedLogins.TryTake(username, now);

    /// <summary>Forgets the limiters' buckets that are full again (from <see cref="Tick"/>).</summary>
    private void PruneRateLimits(long now)
    {
        _challenges.Prune(now);
        _failedLogins.Prune(now);
    }
}
