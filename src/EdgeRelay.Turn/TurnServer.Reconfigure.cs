using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Auth;

namespace EdgeRelay.Turn;

public sealed partial class TurnServer
{
    /// <summary>
    /// Replaces the options of a running server (serialised with every other call, as always). What
    /// exists stays as it is: allocations, permissions, channel bindings and reservations keep relaying
    /// with the relay sockets, lifetimes and user names they were made with, and the response cache is
    /// kept. The new options apply to the requests that come next: credentials, realm, anonymous access,
    /// peer policy, quotas, lifetimes, relay addresses and the relay port range.
    /// </summary>
    /// <remarks>
    /// <list type="bullet">
    /// <item>Nonces already issued stay valid until their own expiry: the <see cref="NonceService"/> and
    /// its key are kept, only the lifetime of new nonces changes. A realm change still makes the next
    /// request with the old REALM get 401 with the new one (RFC 8489 §9.2.4 step 4).</item>
    /// <item>A new port range is a new <see cref="RelayPortPool"/>; the ports of live allocations and
    /// reservations that fall inside it are taken in it at once. Those outside it are simply never handed
    /// out again, and releasing them later is a no-op.</item>
    /// <item>Lower quotas refuse new allocations, permissions and channels only; nothing is evicted.</item>
    /// <item>An allocation whose user is no longer in the configuration keeps relaying until its next
    /// Refresh, which ends it (see <see cref="EndAllocationOfRemovedUser"/>), or until it expires.
    /// Its CreatePermission and ChannelBind requests fail authentication (401) like any request of an
    /// unknown user, so its permissions and channels are not refreshed and age out.</item>
    /// <item>NAT behaviour discovery (<see cref="TurnServerOptions.NatBehaviorDiscovery"/>) stays as the server
    /// was made: the sockets behind it are bound once, at start.</item>
    /// </list>
    /// Everything that can fail (a bad port range) is built before anything changes, so an exception leaves
    /// the server as it was.
    /// </remarks>
    public void Reconfigure(TurnServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        TurnServerOptions previous = _options;
        TurnCredentials credentials = HaveSameCredentials(previous, options)
            ? _credentials
            : new TurnCredentials(options.Realm, options.Users, options.SharedSecrets, options.RestMaxValidity);
        RelayPortPool ports = options.RelayPortMin == _ports.First && options.RelayPortMax == _ports.Last
            ? _ports
            : TakeLivePorts(new RelayPortPool(options.RelayPortMin, options.RelayPortMax, _random));

        _options = options;
        _credentials = credentials;
        _ports = ports;
        _nonces.Lifetime = options.NonceLifetime;
        if (options.ChallengeBurstPerAddress != previous.ChallengeBurstPerAddress || options.ChallengesPerSecondPerAddress != previous.ChallengesPerSecondPerAddress
            || options.FailedLoginBurstPerUser != previous.FailedLoginBurstPerUser || options.FailedLoginsPerMinutePerUser != previous.FailedLoginsPerMinutePerUser)
        {
            CreateRateLimits(options);
        }
        TurnLog.Reconfigured(_logger, options.Realm, options.Users.Count, options.SharedSecrets.Count, ports.First, ports.Last,
            ports.InUse, _allocations.Count);
    }

    /// <summary>Whether the keys derived from <paramref name="a"/> would be those of <paramref name="b"/>.</summary>
    private static bool HaveSameCredentials(TurnServerOptions a, TurnServerOptions b)
    {
        if (!string.Equals(a.Realm, b.Realm, StringComparison.Ordinal) || a.RestMaxValidity != b.RestMaxValidity
            || !a.SharedSecrets.SequenceEqual(b.SharedSecrets, StringComparer.Ordinal) || a.Users.Count != b.Users.Count)
        {
            return false;
        }
        foreach ((string name, string password) in a.Users)
        {
            if (!b.Users.TryGetValue(name, out string? other) || !string.Equals(password, other, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Marks in <paramref name="pool"/> every port that a live allocation or a reservation holds.</summary>
    private RelayPortPool TakeLivePorts(RelayPortPool pool)
    {
        foreach (Allocation allocation in _allocations.Values)
        {
            foreach (RelayedTransport relay in allocation.Relays)
            {
                pool.TryTakeSpecific(relay.BoundAddress.Port);
            }
        }
        foreach (Reservation reservation in _reservations.Values)
        {
            pool.TryTakeSpecific(reservation.Relay.BoundAddress.Port);
        }
        return pool;
    }

    /// <summary>
    /// Called when a Refresh on <paramref name="fiveTuple"/> failed authentication. RFC 8656 §5 binds every
    /// later request of an allocation to the credentials that made it (441 for another user), so once its
    /// user has left the configuration no Refresh can ever succeed (§8.2): the allocation would only linger
    /// until it expires, holding its port. It ends here instead, at the refresh the client asked for
    /// rather than in the middle of the call. Only the allocation's own five-tuple gets here, and only a
    /// user who is really gone counts: a bad MESSAGE-INTEGRITY for a user still configured deletes nothing,
    /// or a spoofed datagram could end someone's call.
    /// </summary>
    private void EndAllocationOfRemovedUser(in FiveTuple fiveTuple)
    {
        if (_allocations.TryGetValue(fiveTuple, out Allocation? allocation) && !IsConfiguredUser(allocation.Username))
        {
            DeleteAllocation(allocation, "user removed from the configuration");
        }
    }

    /// <summary>
    /// Whether the user an allocation was made by could still authenticate: a static user, a TURN REST
    /// name while shared secrets exist, or the anonymous user (empty name) while anonymous access is on.
    /// </summary>
    private bool IsConfiguredUser(string username) =>
        username.Length == 0 ? _options.AllowAnonymous : _credentials.MayAuthenticate(username);
}
