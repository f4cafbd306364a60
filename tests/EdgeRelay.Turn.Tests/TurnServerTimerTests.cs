using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>Every lifetime, driven by the injected clock only: no sleeps.</summary>
public sealed class TurnServerTimerTests
{
    private static readonly TransportAddress Peer = TurnTestHost.Address("8.8.8.8", 5000);

    [Fact]
    public void Allocation_expires_exactly_at_its_lifetime()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail();
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);

        host.Time.AdvanceMilliseconds(599_999);
        host.Server.Tick();
        Assert.Equal(1, host.Server.AllocationCount);
        Assert.False(allocation.IsDeleted);
        Assert.False(Assert.Single(host.Binder.Endpoints).IsDisposed);

        host.Time.AdvanceMilliseconds(1);
        host.Server.Tick();
        Assert.Equal(0, host.Server.AllocationCount);
        Assert.True(allocation.IsDeleted);
        Assert.True(Assert.Single(host.Binder.Endpoints).IsDisposed);
        Assert.Null(client.Allocation);
        Assert.Equal(1, host.Server.Counters.AllocationsEnded);
    }

    [Fact]
    public void Expired_allocation_relays_nothing_even_before_the_tick()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail();
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);
        // Keep channel and permission alive past the allocation's 600 s.
        host.Time.AdvanceSeconds(299);
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);
        host.Time.AdvanceSeconds(299);
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);

        host.Time.AdvanceMilliseconds(1_999);
        Assert.Equal(TurnActionKind.SendToPeer, client.Handle(TurnTestClient.ChannelDataMessage(0x4000, [1]), out _).Kind);
        Assert.Equal(TurnActionKind.SendToClient, host.DeliverFromPeer(allocation, Peer, [1]).Action.Kind);

        host.Time.AdvanceMilliseconds(1);
        Assert.Equal(TurnActionKind.None, client.Handle(TurnTestClient.ChannelDataMessage(0x4000, [1]), out _).Kind);
        Assert.Equal(TurnActionKind.None, host.DeliverFromPeer(allocation, Peer, [1]).Action.Kind);
        Assert.Equal(TurnActionKind.None, client.Handle(TurnTestClient.SendIndication(Peer, [1]), out _).Kind);
    }

    [Fact]
    public void Allocate_after_expiry_succeeds_even_before_the_tick()
    {
        // RFC 8656 §7.2 step 2 refuses a five-tuple "currently in use by an existing allocation"; an expired one is not.
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail();

        host.Time.AdvanceSeconds(600);

        StunResponse response = client.Allocate();
        Assert.True(response.IsSuccess, response.Describe());
        Assert.Equal(1, host.Server.AllocationCount);
        Assert.Equal(1, host.Server.RelayPortsInUse);
    }

    [Fact]
    public void Refresh_moves_the_expiry_to_now_plus_the_granted_lifetime()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail();
        host.Time.AdvanceSeconds(300);
        Assert.Equal(600u, client.Refresh(600).GetUInt32(StunAttributeType.Lifetime));

        host.Time.AdvanceMilliseconds(599_999);
        host.Server.Tick();
        Assert.Equal(1, host.Server.AllocationCount);

        host.Time.AdvanceMilliseconds(1);
        host.Server.Tick();
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Stepping_the_wall_clock_does_not_expire_an_allocation()
    {
        var host = new TurnTestHost();
        host.Client().AllocateOrFail();

        host.Time.StepWallClock(TimeSpan.FromDays(2));
        host.Server.Tick();

        Assert.Equal(1, host.Server.AllocationCount);
    }

    [Fact]
    public void Permission_lives_300_seconds()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail();
        Assert.True(client.CreatePermission(Peer).IsSuccess);

        host.Time.AdvanceMilliseconds(299_999);
        host.Server.Tick();
        Assert.Equal(1, allocation.PermissionCount);
        Assert.Equal(TurnActionKind.SendToClient, host.DeliverFromPeer(allocation, Peer, [1]).Action.Kind);

        host.Time.AdvanceMilliseconds(1);
        host.Server.Tick();
        Assert.Equal(0, allocation.PermissionCount);
        Assert.Equal(TurnActionKind.None, host.DeliverFromPeer(allocation, Peer, [1]).Action.Kind);
    }

    [Fact]
    public void Channel_lives_600_seconds()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail(r => r.Lifetime(3600));
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);
        host.Time.AdvanceSeconds(299);
        Assert.True(client.CreatePermission(Peer).IsSuccess);
        host.Time.AdvanceSeconds(299);
        Assert.True(client.CreatePermission(Peer).IsSuccess);

        host.Time.AdvanceMilliseconds(1_999);
        host.Server.Tick();
        Assert.Equal(0x40, host.DeliverFromPeer(allocation, Peer, [1]).Bytes[0]);

        host.Time.AdvanceMilliseconds(1);
        host.Server.Tick();
        // Past 600 s the peer's datagrams are Data indications (STUN, first bits 00), not ChannelData.
        Assert.Equal(0x00, host.DeliverFromPeer(allocation, Peer, [1]).Bytes[0]);
    }

    [Fact]
    public void Nonce_lives_for_the_nonce_lifetime()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(nonceLifetime: TimeSpan.FromMinutes(10)));
        TurnTestClient client = host.Client();
        client.LearnChallenge(client.SendOnce(TurnTestClient.AllocateRequest()));

        host.Time.AdvanceMilliseconds(599_999);
        Assert.True(client.SendOnce(TurnTestClient.AllocateRequest()).IsSuccess);

        host.Time.AdvanceMilliseconds(1);
        Assert.Equal(StunErrorCode.StaleNonce, client.SendOnce(new StunRequest(StunMethod.Refresh)).ErrorCode);
    }

    [Fact]
    public void Nonce_lifetime_follows_the_option()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(nonceLifetime: TimeSpan.FromSeconds(30)));
        TurnTestClient client = host.Client();
        client.LearnChallenge(client.SendOnce(TurnTestClient.AllocateRequest()));

        host.Time.AdvanceSeconds(30);

        Assert.Equal(StunErrorCode.StaleNonce, client.SendOnce(TurnTestClient.AllocateRequest()).ErrorCode);
    }

    [Fact]
    public void Reservation_is_held_for_30_seconds()
    {
        var host = new TurnTestHost();
        StunResponse first = host.Client(clientPort: 40000).Allocate(r => r.EvenPort(true));
        int reservedPort = first.GetXorAddress(StunAttributeType.XorRelayedAddress).Port + 1;
        byte[] token = first.Get(StunAttributeType.ReservationToken)!;

        host.Time.AdvanceMilliseconds(29_999);
        host.Server.Tick();
        Assert.False(host.Binder.EndpointOn(reservedPort).IsDisposed);
        Assert.Equal(2, host.Server.RelayPortsInUse);

        StunResponse redeemed = host.Client(clientPort: 40001).Allocate(r => r.ReservationToken(token));
        Assert.Equal(reservedPort, redeemed.GetXorAddress(StunAttributeType.XorRelayedAddress).Port);
    }

    [Fact]
    public void Reservation_ends_after_30_seconds_and_its_port_is_released()
    {
        var host = new TurnTestHost();
        StunResponse first = host.Client(clientPort: 40000).Allocate(r => r.EvenPort(true));
        int reservedPort = first.GetXorAddress(StunAttributeType.XorRelayedAddress).Port + 1;
        byte[] token = first.Get(StunAttributeType.ReservationToken)!;

        host.Time.AdvanceSeconds(30);
        host.Server.Tick();

        Assert.True(host.Binder.EndpointOn(reservedPort).IsDisposed);
        Assert.Equal(1, host.Server.RelayPortsInUse);
        Assert.Equal(StunErrorCode.InsufficientCapacity, host.Client(clientPort: 40001).Allocate(r => r.ReservationToken(token)).ErrorCode);
    }

    [Fact]
    public void Reservation_past_30_seconds_is_refused_even_before_the_tick()
    {
        var host = new TurnTestHost();
        StunResponse first = host.Client(clientPort: 40000).Allocate(r => r.EvenPort(true));
        int reservedPort = first.GetXorAddress(StunAttributeType.XorRelayedAddress).Port + 1;
        byte[] token = first.Get(StunAttributeType.ReservationToken)!;

        host.Time.AdvanceSeconds(30);

        Assert.Equal(StunErrorCode.InsufficientCapacity, host.Client(clientPort: 40001).Allocate(r => r.ReservationToken(token)).ErrorCode);
        Assert.True(host.Binder.EndpointOn(reservedPort).IsDisposed);
        Assert.Equal(1, host.Server.RelayPortsInUse);
    }

    [Fact]
    public void Retransmissions_are_answered_from_the_cache_for_40_seconds()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.LearnChallenge(client.SendOnce(TurnTestClient.AllocateRequest()));
        byte[] request = TurnTestClient.AllocateRequest().Encode(client.CurrentAuth());
        StunResponse first = client.SendRaw(request)!;
        Assert.True(first.IsSuccess);

        host.Time.AdvanceMilliseconds(39_999);
        Assert.Equal(first.Bytes, client.SendRaw(request)!.Bytes);

        host.Time.AdvanceMilliseconds(1);
        Assert.Equal(StunErrorCode.AllocationMismatch, client.SendRaw(request)!.ErrorCode);
    }

    [Fact]
    public void Delete_all_allocations_ends_every_allocation_and_reservation()
    {
        var host = new TurnTestHost();
        host.Client(clientPort: 40000).AllocateOrFail(r => r.EvenPort(true));
        host.Client(clientPort: 40001).AllocateOrFail();

        host.Server.DeleteAllAllocations("shutdown");

        Assert.Equal(0, host.Server.AllocationCount);
        Assert.Equal(0, host.Server.RelayPortsInUse);
        Assert.All(host.Binder.Endpoints, e => Assert.True(e.IsDisposed));
    }
}
