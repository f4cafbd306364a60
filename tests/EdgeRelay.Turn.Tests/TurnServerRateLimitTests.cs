using EdgeRelay.Stun;
using EdgeRelay.Turn.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeRelay.Turn.Tests;

/// <summary>
/// Amplification and brute force (RFC 8656 §21.1, RFC 8489 §16.1): what an unauthenticated request gets back,
/// challenges limited per client address, failed logins limited per user name, and a client that relays
/// never limited.
/// </summary>
public sealed class TurnServerRateLimitTests(ITestOutputHelper output)
{
    private static readonly TransportAddress Peer = TurnTestHost.Address("8.8.8.8", 5000);

    private static TurnTestHost Host(int challengeBurst = 200, double challengesPerSecond = 50, int loginBurst = 20, double loginsPerMinute = 10) =>
        new(TurnTestHost.CreateOptions(nonceLifetime: TimeSpan.FromSeconds(60), challengeBurstPerAddress: challengeBurst,
            challengesPerSecondPerAddress: challengesPerSecond, failedLoginBurstPerUser: loginBurst, failedLoginsPerMinutePerUser: loginsPerMinute));

    private static bool Challenged(TurnTestClient client) =>
        client.SendRaw(TurnTestClient.AllocateRequest().Encode()) is { ErrorCode: StunErrorCode.Unauthenticated };

    [Fact]
    public void Challenges_are_limited_per_address_whatever_the_port_and_refill_with_time()
    {
        TurnTestHost host = Host(challengeBurst: 5, challengesPerSecond: 2);

        for (int port = 40000; port < 40005; port++)
        {
            Assert.True(Challenged(host.Client(clientPort: port)));
        }

        Assert.False(Challenged(host.Client(clientPort: 41000)));
        Assert.Equal(TurnActionKind.None, host.Client(clientPort: 41000).Handle(TurnTestClient.AllocateRequest().Encode(), out _).Kind);
        Assert.True(Challenged(host.Client(clientIp: "203.0.113.51")));
        Assert.Equal(2, host.Server.Counters.ChallengesRateLimited);

        host.Time.AdvanceSeconds(1);
        Assert.True(Challenged(host.Client(clientPort: 41001)));
        Assert.True(Challenged(host.Client(clientPort: 41002)));
        Assert.False(Challenged(host.Client(clientPort: 41003)));
    }

    [Fact]
    public void An_IPv6_client_is_limited_by_its_64_prefix()
    {
        TurnTestHost host = Host(challengeBurst: 1, challengesPerSecond: 0.001);
        TurnTestClient V6(string address) => host.Client(TurnTestHost.FiveTuple() with { Client = TransportAddress.FromIPAddress(System.Net.IPAddress.Parse(address), 40000) });

        Assert.True(Challenged(V6("2001:db8:1:2::10")));
        Assert.False(Challenged(V6("2001:db8:1:2:ffff::99")));
        Assert.True(Challenged(V6("2001:db8:1:3::10")));
    }

    [Fact]
    public void A_client_that_relays_is_answered_however_many_challenges_its_address_has_had()
    {
        TurnTestHost host = Host(challengeBurst: 3, challengesPerSecond: 0.001);
        TurnTestClient relaying = host.Client();
        Assert.True(relaying.Allocate().IsSuccess);
        int port = 45000;
        while (Challenged(host.Client(clientPort: port++)))
        {
        }

        // Its nonce goes stale: the 438 comes, the retry succeeds, the call goes on.
        host.Time.AdvanceSeconds(61);
        StunResponse refreshed = relaying.Refresh(600);
        Assert.True(refreshed.IsSuccess, refreshed.Describe());
        Assert.True(relaying.CreatePermission(Peer).IsSuccess);
    }

    [Fact]
    public void Failed_logins_are_limited_per_user_name_right_password_or_not_and_a_relaying_client_of_that_user_goes_on()
    {
        TurnTestHost host = Host(loginBurst: 3, loginsPerMinute: 6);
        TurnTestClient relaying = host.Client();
        Assert.True(relaying.Allocate().IsSuccess);

        for (int port = 40100; port < 40103; port++)
        {
            Assert.Equal(StunErrorCode.Unauthenticated, host.Client(clientPort: port, password: "wrong password").Allocate().ErrorCode);
        }

        // The next try for alice is not answered at all, even with her password, from wherever it comes.
        TurnTestClient guesser = host.Client(clientIp: "203.0.113.77", password: "wrong password");
        Assert.True(Challenged(guesser));
        guesser.LearnChallenge(guesser.SendRaw(TurnTestClient.AllocateRequest().NewTransaction().Encode())!);
        Assert.Null(guesser.SendRaw(TurnTestClient.AllocateRequest().Encode(guesser.CurrentAuth())));
        TurnTestClient right = host.Client(clientIp: "203.0.113.78");
        Assert.True(Challenged(right));
        right.LearnChallenge(right.SendRaw(TurnTestClient.AllocateRequest().NewTransaction().Encode())!);
        Assert.Null(right.SendRaw(TurnTestClient.AllocateRequest().Encode(right.CurrentAuth())));
        Assert.Equal(2, host.Server.Counters.LoginsRateLimited);
        // Bob is someone else.
        Assert.True(host.Client(username: "bob", password: TurnTestHost.BobPassword, clientPort: 40200).Allocate().IsSuccess);
        // Alice's call goes on.
        Assert.True(relaying.Refresh(600).IsSuccess);

        // Six a minute: one more try after ten seconds.
        host.Time.AdvanceSeconds(10);
        Assert.True(host.Client(clientIp: "203.0.113.79").Allocate().IsSuccess);
    }

    [Fact]
    public void A_Refresh_storm_on_one_allocation_gets_answers_up_to_its_bucket_and_no_one_else_is_touched()
    {
        TurnTestHost host = new(TurnTestHost.CreateOptions(requestBurstPerAllocation: 5, requestsPerSecondPerAllocation: 2));
        TurnTestClient storming = host.Client();
        TurnTestClient other = host.Client(username: "bob", password: TurnTestHost.BobPassword, clientPort: 40001);
        storming.AllocateOrFail();
        other.AllocateOrFail();
        Assert.True(storming.CreatePermission(Peer).IsSuccess);

        int answered = 0;
        for (int i = 0; i < 50; i++)
        {
            if (storming.SendRaw(new StunRequest(StunMethod.Refresh).Lifetime(600).Encode(storming.CurrentAuth())) is { IsSuccess: true })
            {
                answered++;
            }
        }
        // The burst of five, less the CreatePermission: every request on the five-tuple spends the same bucket.
        Assert.Equal(4, answered);
        Assert.Equal(46, host.Server.Counters.AllocationRequestsRateLimited);
        Assert.Null(storming.SendRaw(new StunRequest(StunMethod.ChannelBind).ChannelNumber(0x4000).XorPeerAddress(Peer).Encode(storming.CurrentAuth())));

        // Its call still relays; the other client's requests are all answered.
        Assert.Equal(TurnActionKind.SendToPeer, storming.Handle(TurnTestClient.SendIndication(Peer, [1, 2, 3]), out _).Kind);
        for (int i = 0; i < 5; i++)
        {
            Assert.True(other.Refresh(600).IsSuccess);
        }

        // Two a second: the storming client is answered again after a second, twice.
        host.Time.AdvanceSeconds(1);
        Assert.True(storming.SendOnce(new StunRequest(StunMethod.Refresh).Lifetime(600)).IsSuccess);
        Assert.True(storming.SendOnce(new StunRequest(StunMethod.Refresh).Lifetime(600)).IsSuccess);
        Assert.Null(storming.SendRaw(new StunRequest(StunMethod.Refresh).Lifetime(600).Encode(storming.CurrentAuth())));
    }

    [Fact]
    public void Only_authenticated_requests_spend_an_allocations_bucket_and_over_TCP_the_one_beyond_it_gets_508()
    {
        TurnTestHost host = new(TurnTestHost.CreateOptions(requestBurstPerAllocation: 3, requestsPerSecondPerAllocation: 0.001));
        TurnTestClient udp = host.Client();
        udp.AllocateOrFail();
        // Whoever spoofs the client's address has no key: a hundred requests without MESSAGE-INTEGRITY spend nothing.
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(StunErrorCode.Unauthenticated, udp.SendRaw(new StunRequest(StunMethod.Refresh).Encode())?.ErrorCode);
        }
        for (int i = 0; i < 3; i++)
        {
            Assert.True(udp.SendOnce(new StunRequest(StunMethod.Refresh).Lifetime(600)).IsSuccess);
        }
        Assert.Null(udp.SendRaw(new StunRequest(StunMethod.Refresh).Lifetime(600).Encode(udp.CurrentAuth())));

        // Over TCP the client would wait 39.5 s for an answer that never comes (RFC 8489 §6.2.2): it is told.
        TurnTestClient tcp = host.Client(clientPort: 40001, protocol: TransportProtocol.Tcp);
        tcp.AllocateOrFail();
        for (int i = 0; i < 3; i++)
        {
            Assert.True(tcp.SendOnce(new StunRequest(StunMethod.Refresh).Lifetime(600)).IsSuccess);
        }
        Assert.Equal(StunErrorCode.InsufficientCapacity, tcp.SendOnce(new StunRequest(StunMethod.Refresh).Lifetime(600)).ErrorCode);
        Assert.Equal(2, host.Server.Counters.AllocationRequestsRateLimited);
    }

    /// <summary>
    /// RFC 8656 §21.1 / RFC 8489 §16.1: a server must not be a reflector. Every request that a spoofer can send
    /// without credentials is answered with no more than the RFC asks: XOR-MAPPED-ADDRESS to a Binding, REALM,
    /// NONCE and PASSWORD-ALGORITHMS (RFC 8489 §9.2.4) with the 401, the error alone otherwise, and FINGERPRINT
    /// only when the request had one. The worst ratio is printed for the record.
    /// </summary>
    [Fact]
    public void An_unauthenticated_request_gets_no_more_than_the_RFC_asks_and_the_worst_ratio_is_bounded()
    {
        TurnTestHost host = Host();
        var requests = new (string Name, StunRequest Request)[]
        {
            ("Binding", new StunRequest(StunMethod.Binding)),
            ("Binding + FINGERPRINT", new StunRequest(StunMethod.Binding).WithFingerprint()),
            ("Allocate", TurnTestClient.AllocateRequest()),
            ("Allocate + FINGERPRINT", TurnTestClient.AllocateRequest().WithFingerprint()),
            ("Allocate, no REQUESTED-TRANSPORT", new StunRequest(StunMethod.Allocate)),
            ("Refresh", new StunRequest(StunMethod.Refresh)),
            ("CreatePermission", new StunRequest(StunMethod.CreatePermission).XorPeerAddress(Peer)),
            ("ChannelBind", new StunRequest(StunMethod.ChannelBind).ChannelNumber(0x4000).XorPeerAddress(Peer)),
            ("unknown method", new StunRequest((StunMethod)0x0ff)),
            ("Binding, unknown comprehension-required attribute", new StunRequest(StunMethod.Binding).Attribute(0x0077, [1, 2, 3, 4])),
        };
        double worst = 0;
        int port = 40000;
        foreach ((string name, StunRequest request) in requests)
        {
            byte[] bytes = request.Encode();
            StunResponse? response = host.Client(clientPort: port++).SendRaw(bytes);
            if (response is null)
            {
                output.WriteLine($"{name}: {bytes.Length} bytes in, no answer");
                continue;
            }
            double ratio = (double)response.Bytes.Length / bytes.Length;
            worst = Math.Max(worst, ratio);
            output.WriteLine($"{name}: {bytes.Length} bytes in, {response.Bytes.Length} out ({ratio:F2}), {response.Describe()}");
            var allowed = new HashSet<ushort> { (ushort)StunAttributeType.ErrorCode, (ushort)StunAttributeType.Fingerprint };
            if (request.Method == StunMethod.Binding)
            {
                allowed.Add((ushort)StunAttributeType.XorMappedAddress);
                allowed.Add((ushort)StunAttributeType.UnknownAttributes);
            }
            if (response.ErrorCode == StunErrorCode.Unauthenticated)
            {
                allowed.UnionWith([(ushort)StunAttributeType.Realm, (ushort)StunAttributeType.Nonce, (ushort)StunAttributeType.PasswordAlgorithms]);
            }
            Assert.All(response.AttributeTypes, type => Assert.True(allowed.Contains(type), $"{name}: attribute 0x{type:x4} in {response.Describe()}"));
            Assert.Equal(request.Fingerprint, response.Has(StunAttributeType.Fingerprint));
        }
        output.WriteLine($"worst response/request ratio: {worst:F2}");
        // The worst is the 401 to a bare 20-byte header (a Refresh, an Allocate without attributes): 128 bytes
        // of what RFC 8489 §9.2.4 asks for, ERROR-CODE, REALM, NONCE and PASSWORD-ALGORITHMS. What a spoofed
        // flood can reflect at one address is bounded by the challenges it may have (Challenges_are_limited…).
        Assert.InRange(worst, 1, 6.5);
    }
}
