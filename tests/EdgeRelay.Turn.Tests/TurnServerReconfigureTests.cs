using System.Net;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Policy;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>
/// A new configuration applied to a running server: it governs the requests that follow, and leaves the
/// allocations, permissions and channels that exist relaying.
/// </summary>
public sealed class TurnServerReconfigureTests
{
    private static readonly TransportAddress Peer = TurnTestHost.Address("8.8.8.8", 5000);
    private static readonly byte[] Payload = [0xCA, 0xFE, 0x01];
    private static readonly Dictionary<string, string> AliceOnly = new() { ["alice"] = TurnTestHost.AlicePassword };

    private static FiveTuple Tuple(int clientPort) => TurnTestHost.FiveTuple(clientPort: clientPort);

    [Fact]
    public void A_user_added_by_reconfiguration_can_allocate_afterwards()
    {
        var host = new TurnTestHost();
        TurnTestClient carol = host.Client("carol", "carol's password");
        Assert.Equal(StunErrorCode.Unauthenticated, carol.Allocate().ErrorCode);

        host.Server.Reconfigure(TurnTestHost.CreateOptions(users: new Dictionary<string, string>(TurnTestHost.DefaultUsers)
        {
            ["carol"] = "carol's password",
        }));

        Assert.True(carol.Allocate().IsSuccess);
        Assert.Equal("carol", carol.Allocation!.Username);
    }

    [Fact]
    public void A_removed_user_s_allocation_keeps_relaying_until_its_next_refresh_which_ends_it_with_401()
    {
        var log = new RecordingLogger();
        var host = new TurnTestHost(log: log);
        TurnTestClient bob = host.Client("bob");
        Allocation allocation = bob.AllocateOrFail();
        Assert.True(bob.ChannelBind(0x4001, Peer).IsSuccess);
        int port = allocation.BoundAddress.Port;

        host.Server.Reconfigure(TurnTestHost.CreateOptions(users: AliceOnly));
        host.Time.AdvanceSeconds(60);
        host.Server.Tick();

        // ChannelData, Send indications and the peer's data still flow both ways.
        Assert.Equal(TurnActionKind.SendToPeer, bob.Handle(TurnTestClient.ChannelDataMessage(0x4001, Payload), out _).Kind);
        Assert.Equal(TurnActionKind.SendToPeer, bob.Handle(TurnTestClient.SendIndication(Peer, Payload), out _).Kind);
        Assert.Equal(TurnActionKind.SendToClient, host.DeliverFromPeer(allocation, Peer, Payload).Action.Kind);

        StunResponse refresh = bob.Refresh();

        Assert.Equal(StunErrorCode.Unauthenticated, refresh.ErrorCode);
        Assert.Null(bob.Allocation);
        Assert.True(allocation.IsDeleted);
        Assert.True(host.Binder.EndpointOn(port).IsDisposed);
        Assert.Equal(0, host.Server.RelayPortsInUse);
        Assert.Contains(log.Lines, line => line.StartsWith("Allocation ended (user removed from the configuration)", StringComparison.Ordinal)
                                           && line.Contains("user 'bob'", StringComparison.Ordinal));
        Assert.Equal(TurnActionKind.None, bob.Handle(TurnTestClient.ChannelDataMessage(0x4001, Payload), out _).Kind);
    }

    /// <summary>
    /// CreatePermission and ChannelBind of a removed user fail authentication like any unknown user's,
    /// and end nothing: the allocation lives on to its next Refresh, and its permissions age out.
    /// </summary>
    [Fact]
    public void CreatePermission_and_ChannelBind_of_a_removed_user_get_401_and_leave_the_allocation_relaying()
    {
        var host = new TurnTestHost();
        TurnTestClient bob = host.Client("bob");
        Allocation allocation = bob.AllocateOrFail();
        Assert.True(bob.ChannelBind(0x4001, Peer).IsSuccess);
        host.Server.Reconfigure(TurnTestHost.CreateOptions(users: AliceOnly));

        Assert.Equal(StunErrorCode.Unauthenticated, bob.CreatePermission(TurnTestHost.Address("1.1.1.1", 9)).ErrorCode);
        Assert.Equal(StunErrorCode.Unauthenticated, bob.ChannelBind(0x4001, Peer).ErrorCode);

        Assert.Same(allocation, bob.Allocation);
        Assert.Equal(TurnActionKind.SendToPeer, bob.Handle(TurnTestClient.ChannelDataMessage(0x4001, Payload), out _).Kind);
        // Not refreshed, the permission ends with the channel that holds it (RFC 8656 §12: 600 s).
        host.Time.AdvanceSeconds(301);
        host.Server.Tick();
        Assert.Equal(TurnActionKind.None, bob.Handle(TurnTestClient.SendIndication(TurnTestHost.Address("1.1.1.1", 9), Payload), out _).Kind);
        host.Time.AdvanceSeconds(300);
        host.Server.Tick();
        Assert.Equal(TurnActionKind.None, bob.Handle(TurnTestClient.ChannelDataMessage(0x4001, Payload), out _).Kind);
    }

    [Fact]
    public void A_refresh_with_a_bad_MAC_for_a_known_user_never_deletes_the_allocation()
    {
        var host = new TurnTestHost();
        FiveTuple aliceTuple = Tuple(40001);
        TurnTestClient alice = host.Client(aliceTuple, "alice");
        alice.AllocateOrFail();
        TurnTestClient bob = host.Client(Tuple(40002), "bob");
        bob.AllocateOrFail();
        host.Server.Reconfigure(TurnTestHost.CreateOptions(users: AliceOnly));

        // On alice's own five-tuple: her name with a wrong password, and the removed bob's name.
        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(aliceTuple, "alice", "wrong password").Refresh(0).ErrorCode);
        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(aliceTuple, "bob").Refresh(0).ErrorCode);
        Assert.NotNull(alice.Allocation);

        // Bob's name from another five-tuple cannot end bob's allocation either: only its own five-tuple can.
        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(Tuple(40003), "bob").Refresh(0).ErrorCode);
        Assert.NotNull(bob.Allocation);

        // A password that changed: the old one is refused, and the allocation stays until it expires.
        host.Server.Reconfigure(TurnTestHost.CreateOptions(users: new Dictionary<string, string> { ["alice"] = "a new password" }));
        Assert.Equal(StunErrorCode.Unauthenticated, alice.Refresh().ErrorCode);
        Assert.NotNull(alice.Allocation);
        Assert.True(host.Client(aliceTuple, "alice", "a new password").Refresh().IsSuccess);
    }

    [Fact]
    public void Anonymous_allocations_end_at_their_next_refresh_once_anonymous_access_is_off()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(allowAnonymous: true));
        TurnTestClient anonymous = host.Client(username: null);
        anonymous.AllocateOrFail();
        Assert.True(anonymous.Refresh().IsSuccess);

        host.Server.Reconfigure(TurnTestHost.CreateOptions(allowAnonymous: false));

        Assert.Equal(StunErrorCode.Unauthenticated, anonymous.Refresh().ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void TURN_REST_allocations_survive_a_secret_rotation_and_end_at_their_refresh_once_no_secret_is_left()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(sharedSecrets: ["old secret"]));
        (string username, string password) = TurnTestHost.RestCredential("old secret", host.NowUnixSeconds + 3600);
        TurnTestClient rest = host.Client(username, password);
        rest.AllocateOrFail();

        host.Server.Reconfigure(TurnTestHost.CreateOptions(sharedSecrets: ["new secret"]));
        Assert.Equal(StunErrorCode.Unauthenticated, rest.Refresh().ErrorCode);
        Assert.NotNull(rest.Allocation);

        host.Server.Reconfigure(TurnTestHost.CreateOptions(sharedSecrets: []));
        Assert.Equal(StunErrorCode.Unauthenticated, rest.Refresh().ErrorCode);
        Assert.Null(rest.Allocation);
    }

    [Fact]
    public void A_lower_allocation_limit_refuses_new_allocations_and_keeps_the_existing_ones()
    {
        var host = new TurnTestHost();
        TurnTestClient first = host.Client(Tuple(40001), "alice");
        TurnTestClient second = host.Client(Tuple(40002), "bob");
        first.AllocateOrFail();
        second.AllocateOrFail();
        Assert.True(second.ChannelBind(0x4001, Peer).IsSuccess);

        host.Server.Reconfigure(TurnTestHost.CreateOptions(maxAllocations: 1, maxAllocationsPerUser: 1,
            users: new Dictionary<string, string>(TurnTestHost.DefaultUsers) { ["carol"] = "pw" }));

        // Per user first (486), then for the whole relay (508), as RFC 8656 §7.2 step 10 orders them.
        Assert.Equal(StunErrorCode.AllocationQuotaReached, host.Client(Tuple(40003), "alice").Allocate().ErrorCode);
        Assert.Equal(StunErrorCode.InsufficientCapacity, host.Client(Tuple(40004), "carol", "pw").Allocate().ErrorCode);

        Assert.Equal(2, host.Server.AllocationCount);
        Assert.True(first.Refresh().IsSuccess);
        Assert.True(second.Refresh().IsSuccess);
        Assert.Equal(TurnActionKind.SendToPeer, second.Handle(TurnTestClient.ChannelDataMessage(0x4001, Payload), out _).Kind);
    }

    [Fact]
    public void A_new_port_range_serves_new_allocations_while_old_ones_keep_their_ports_and_release_them()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayPortMin: 50000, relayPortMax: 50001));
        TurnTestClient a = host.Client(Tuple(40001));
        TurnTestClient b = host.Client(Tuple(40002));
        int portA = a.AllocateOrFail().BoundAddress.Port;
        int portB = b.AllocateOrFail().BoundAddress.Port;
        Assert.Equal([50000, 50001], new[] { portA, portB }.Order());

        // 50001 lies in the new range and is still held: only 50002 is free.
        host.Server.Reconfigure(TurnTestHost.CreateOptions(relayPortMin: 50001, relayPortMax: 50002));
        Assert.Equal(1, host.Server.RelayPortsInUse);
        TurnTestClient c = host.Client(Tuple(40003));
        Assert.Equal(50002, c.AllocateOrFail().BoundAddress.Port);
        Assert.Equal(StunErrorCode.InsufficientCapacity, host.Client(Tuple(40004)).Allocate().ErrorCode);

        // Old allocations still relay, and ending them frees their ports: 50001 comes back, 50000 is just gone.
        TurnTestClient holder50001 = portA == 50001 ? a : b;
        TurnTestClient holder50000 = portA == 50000 ? a : b;
        Assert.True(holder50000.ChannelBind(0x4001, Peer).IsSuccess);
        Assert.Equal(TurnActionKind.SendToPeer, holder50000.Handle(TurnTestClient.ChannelDataMessage(0x4001, Payload), out _).Kind);
        Assert.True(holder50001.Refresh(0).IsSuccess);
        Assert.True(holder50000.Refresh(0).IsSuccess);
        Assert.Equal(1, host.Server.RelayPortsInUse);
        Assert.Equal(50001, host.Client(Tuple(40005)).AllocateOrFail().BoundAddress.Port);
        Assert.Equal(2, host.Server.RelayPortsInUse);
    }

    [Fact]
    public void A_nonce_issued_before_reconfiguration_stays_valid_for_its_own_lifetime()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(nonceLifetime: TimeSpan.FromMinutes(10)));
        TurnTestClient alice = host.Client();
        alice.AllocateOrFail();
        byte[] nonce = alice.Nonce!;

        host.Server.Reconfigure(TurnTestHost.CreateOptions(nonceLifetime: TimeSpan.FromMinutes(1),
            users: new Dictionary<string, string>(TurnTestHost.DefaultUsers) { ["carol"] = "pw" }));
        host.Time.AdvanceSeconds(120);

        Assert.True(alice.SendOnce(new StunRequest(StunMethod.Refresh)).IsSuccess);
        Assert.Equal(nonce, alice.Nonce);

        // Past its own ten minutes it is stale; the new one lasts the new lifetime.
        host.Time.AdvanceSeconds(500);
        StunResponse stale = alice.SendOnce(new StunRequest(StunMethod.Refresh));
        Assert.Equal(StunErrorCode.StaleNonce, stale.ErrorCode);
        alice.LearnChallenge(stale);
        host.Time.AdvanceSeconds(59);
        Assert.True(alice.SendOnce(new StunRequest(StunMethod.Refresh)).IsSuccess);
        host.Time.AdvanceSeconds(2);
        Assert.Equal(StunErrorCode.StaleNonce, alice.SendOnce(new StunRequest(StunMethod.Refresh)).ErrorCode);
    }

    [Fact]
    public void After_a_realm_change_a_request_with_the_old_realm_gets_401_with_the_new_realm_and_the_allocation_goes_on()
    {
        var host = new TurnTestHost();
        TurnTestClient alice = host.Client();
        Allocation allocation = alice.AllocateOrFail();
        TurnServerOptions options = TurnTestHost.CreateOptions();

        host.Server.Reconfigure(new TurnServerOptions
        {
            Realm = "new.realm.test",
            RelayAddressIPv4 = options.RelayAddressIPv4,
            AdvertisedRelayAddressIPv4 = options.AdvertisedRelayAddressIPv4,
            Users = options.Users,
        });

        StunResponse refresh = alice.Refresh();
        Assert.Equal(StunErrorCode.Unauthenticated, refresh.ErrorCode);
        Assert.Equal("new.realm.test", refresh.GetString(StunAttributeType.Realm));
        Assert.Same(allocation, alice.Allocation);

        alice.LearnChallenge(refresh);
        Assert.True(alice.Refresh().IsSuccess);
    }

    [Fact]
    public void New_relay_addresses_and_peer_policy_apply_to_new_requests_only()
    {
        var host = new TurnTestHost();
        TurnTestClient old = host.Client(Tuple(40001));
        Allocation oldAllocation = old.AllocateOrFail();
        Assert.True(old.ChannelBind(0x4001, Peer).IsSuccess);
        TurnServerOptions defaults = TurnTestHost.CreateOptions();
        IPAddress advertised = IPAddress.Parse("198.51.100.99");

        host.Server.Reconfigure(new TurnServerOptions
        {
            Realm = TurnTestHost.Realm,
            RelayAddressIPv4 = IPAddress.Parse("192.0.2.10"),
            AdvertisedRelayAddressIPv4 = advertised,
            Users = defaults.Users,
            PeerPolicy = new PeerAddressPolicy(deny: [IPNetwork.Parse("8.8.8.0/24")]),
        });

        StunResponse allocated = host.Client(Tuple(40002)).Allocate();
        Assert.Equal(advertised, allocated.GetXorAddress(StunAttributeType.XorRelayedAddress).ToIPAddress());
        Assert.Equal(IPAddress.Parse("192.0.2.10"), host.Binder.Endpoints[^1].Address.ToIPAddress());
        Assert.Equal(TurnTestHost.AdvertisedRelayAddress, oldAllocation.RelayedAddress.ToIPAddress());

        // The peer now denied: refused to new requests, the existing channel keeps relaying to it.
        Assert.Equal(StunErrorCode.Forbidden, old.CreatePermission(Peer).ErrorCode);
        Assert.Equal(TurnActionKind.SendToPeer, old.Handle(TurnTestClient.ChannelDataMessage(0x4001, Payload), out _).Kind);
    }

    [Fact]
    public void A_port_range_that_is_not_valid_throws_and_changes_nothing()
    {
        var host = new TurnTestHost();
        TurnServerOptions before = host.Server.Options;

        Assert.Throws<ArgumentOutOfRangeException>(() =>
            host.Server.Reconfigure(TurnTestHost.CreateOptions(relayPortMin: 60000, relayPortMax: 50000, users: AliceOnly)));

        Assert.Same(before, host.Server.Options);
        Assert.True(host.Client("bob").Allocate().IsSuccess);
    }
}
