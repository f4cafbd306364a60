using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>RFC 8656 §9 and §10: permissions and the CreatePermission request.</summary>
public sealed class TurnServerPermissionTests
{
    private static readonly TransportAddress PeerA = TurnTestHost.Address("8.8.8.8", 5000);
    private static readonly TransportAddress PeerB = TurnTestHost.Address("1.1.1.1", 6000);
    private static readonly TransportAddress PeerC = TurnTestHost.Address("9.9.9.9", 7000);

    private static (TurnTestHost Host, TurnTestClient Client, Allocation Allocation) Allocated(TurnServerOptions? options = null)
    {
        var host = new TurnTestHost(options);
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail(r => r.Lifetime(3600));
        return (host, client, allocation);
    }

    private static bool PeerGetsThrough(TurnTestHost host, Allocation allocation, TransportAddress peer) =>
        host.DeliverFromPeer(allocation, peer, [1, 2, 3, 4]).Action.Kind == TurnActionKind.SendToClient;

    [Fact]
    public void CreatePermission_installs_a_permission_for_every_xor_peer_address()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.False(PeerGetsThrough(host, allocation, PeerA));

        StunResponse response = client.CreatePermission(PeerA, PeerB, PeerC);

        Assert.True(response.IsSuccess, response.Describe());
        Assert.True(response.VerifyMessageIntegrity(client.Md5Key));
        Assert.Equal(3, allocation.PermissionCount);
        Assert.True(PeerGetsThrough(host, allocation, PeerA));
        Assert.True(PeerGetsThrough(host, allocation, PeerB));
        Assert.True(PeerGetsThrough(host, allocation, PeerC));
        Assert.False(PeerGetsThrough(host, allocation, TurnTestHost.Address("4.4.4.4", 5000)));
    }

    [Fact]
    public void Permission_is_for_the_ip_address_whatever_the_port()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.CreatePermission(PeerA).IsSuccess);

        Assert.True(PeerGetsThrough(host, allocation, PeerA.WithPort(1)));
        Assert.True(PeerGetsThrough(host, allocation, PeerA.WithPort(65535)));
    }

    [Fact]
    public void CreatePermission_is_all_or_nothing_when_one_peer_is_refused()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();

        StunResponse response = client.CreatePermission(PeerA, TurnTestHost.Address("10.0.0.1", 5000), PeerB);

        Assert.Equal(StunErrorCode.Forbidden, response.ErrorCode);
        Assert.Equal(0, allocation.PermissionCount);
        Assert.False(PeerGetsThrough(host, allocation, PeerA));
        Assert.False(PeerGetsThrough(host, allocation, PeerB));
    }

    [Fact]
    public void Peer_of_another_address_family_is_rejected_with_443()
    {
        (_, TurnTestClient client, Allocation allocation) = Allocated();

        StunResponse response = client.CreatePermission(PeerA, TurnTestHost.Address("2606:4700::1111", 5000));

        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, response.ErrorCode);
        Assert.Equal(0, allocation.PermissionCount);
    }

    [Fact]
    public void CreatePermission_without_peer_is_rejected_with_400()
    {
        (_, TurnTestClient client, _) = Allocated();

        Assert.Equal(StunErrorCode.BadRequest, client.CreatePermission().ErrorCode);
    }

    [Fact]
    public void CreatePermission_with_a_malformed_peer_address_is_rejected_with_400()
    {
        (_, TurnTestClient client, Allocation allocation) = Allocated();

        StunResponse response = client.Send(new StunRequest(StunMethod.CreatePermission)
            .XorPeerAddress(PeerA).Attribute(StunAttributeType.XorPeerAddress, [0, 1, 0, 0]));

        Assert.Equal(StunErrorCode.BadRequest, response.ErrorCode);
        Assert.Equal(0, allocation.PermissionCount);
    }

    [Fact]
    public void CreatePermission_without_allocation_is_rejected_with_437()
    {
        var host = new TurnTestHost();

        Assert.Equal(StunErrorCode.AllocationMismatch, host.Client().CreatePermission(PeerA).ErrorCode);
    }

    [Fact]
    public void CreatePermission_by_another_user_on_the_same_five_tuple_is_rejected_with_441()
    {
        var host = new TurnTestHost();
        host.Client(TurnTestHost.FiveTuple(), "alice").AllocateOrFail();

        Assert.Equal(StunErrorCode.WrongCredentials, host.Client(TurnTestHost.FiveTuple(), "bob").CreatePermission(PeerA).ErrorCode);
    }

    [Fact]
    public void Permissions_beyond_the_per_allocation_limit_are_rejected_with_508()
    {
        (_, TurnTestClient client, Allocation allocation) = Allocated(TurnTestHost.CreateOptions(maxPermissionsPerAllocation: 2));
        Assert.True(client.CreatePermission(PeerA, PeerB).IsSuccess);

        StunResponse response = client.CreatePermission(PeerC);

        Assert.Equal(StunErrorCode.InsufficientCapacity, response.ErrorCode);
        Assert.Equal(2, allocation.PermissionCount);
        // Refreshing the permissions already held is not a new one.
        Assert.True(client.CreatePermission(PeerA, PeerB).IsSuccess);
    }

    [Fact]
    public void Same_peer_ip_twice_in_one_request_counts_as_one_permission()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated(TurnTestHost.CreateOptions(maxPermissionsPerAllocation: 1));

        StunResponse response = client.CreatePermission(PeerA.WithPort(1), PeerA.WithPort(2));

        Assert.True(response.IsSuccess, response.Describe());
        Assert.Equal(1, allocation.PermissionCount);
        Assert.Equal(1, host.Server.Counters.PermissionsCreated);
    }

    [Fact]
    public void Permission_expires_after_300_seconds_and_peer_datagrams_are_then_dropped()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.CreatePermission(PeerA).IsSuccess);

        host.Time.AdvanceMilliseconds(299_999);
        Assert.True(PeerGetsThrough(host, allocation, PeerA));
        Assert.Equal(TurnActionKind.SendToPeer, client.Handle(TurnTestClient.SendIndication(PeerA, [1]), out _).Kind);

        host.Time.AdvanceMilliseconds(1);
        Assert.False(PeerGetsThrough(host, allocation, PeerA));
        Assert.Equal(TurnActionKind.None, client.Handle(TurnTestClient.SendIndication(PeerA, [1]), out _).Kind);
        host.Server.Tick();
        Assert.Equal(0, allocation.PermissionCount);
    }

    [Fact]
    public void Refreshing_a_permission_before_it_expires_keeps_it()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.CreatePermission(PeerA).IsSuccess);
        host.Time.AdvanceSeconds(200);

        Assert.True(client.CreatePermission(PeerA.WithPort(9)).IsSuccess);

        host.Time.AdvanceSeconds(299);
        host.Server.Tick();
        Assert.True(PeerGetsThrough(host, allocation, PeerA));
        Assert.Equal(1, allocation.PermissionCount);
        host.Time.AdvanceSeconds(1);
        Assert.False(PeerGetsThrough(host, allocation, PeerA));
    }

    [Fact]
    public void Send_indication_does_not_refresh_a_permission()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.CreatePermission(PeerA).IsSuccess);
        host.Time.AdvanceSeconds(250);
        Assert.Equal(TurnActionKind.SendToPeer, client.Handle(TurnTestClient.SendIndication(PeerA, [1]), out _).Kind);

        host.Time.AdvanceSeconds(50);

        Assert.False(PeerGetsThrough(host, allocation, PeerA));
    }
}
