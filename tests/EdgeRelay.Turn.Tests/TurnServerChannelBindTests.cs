using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>RFC 8656 §12: channels and the ChannelBind request.</summary>
public sealed class TurnServerChannelBindTests
{
    private static readonly TransportAddress PeerA = TurnTestHost.Address("8.8.8.8", 5000);
    private static readonly TransportAddress PeerB = TurnTestHost.Address("1.1.1.1", 6000);

    private static (TurnTestHost Host, TurnTestClient Client, Allocation Allocation) Allocated(TurnServerOptions? options = null)
    {
        var host = new TurnTestHost(options);
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail(r => r.Lifetime(3600));
        return (host, client, allocation);
    }

    private static bool ChannelRelays(TurnTestClient client, ushort channel) =>
        client.Handle(TurnTestClient.ChannelDataMessage(channel, [1, 2, 3]), out _).Kind == TurnActionKind.SendToPeer;

    [Theory]
    [InlineData(0x4000)]
    [InlineData(0x4ABC)]
    [InlineData(0x4FFF)]
    public void Channel_numbers_0x4000_to_0x4FFF_can_be_bound(int channel)
    {
        (_, TurnTestClient client, Allocation allocation) = Allocated();

        StunResponse response = client.ChannelBind((ushort)channel, PeerA);

        Assert.True(response.IsSuccess, response.Describe());
        Assert.True(response.VerifyMessageIntegrity(client.Md5Key));
        Assert.Equal(1, allocation.ChannelCount);
        Assert.True(ChannelRelays(client, (ushort)channel));
    }

    [Theory]
    [InlineData(0x5000)]
    [InlineData(0x7FFF)]
    public void Channel_numbers_0x5000_to_0x7FFF_of_rfc_5766_are_accepted_for_older_clients(int channel)
    {
        // RFC 8656 §12.2 answers 400 here; ChannelData.MaxChannelNumber was widened to RFC 5766's 0x7FFF on
        // purpose (commit 06ba653), because coturn's turnutils clients still pick numbers above 0x4FFF.
        (_, TurnTestClient client, _) = Allocated();

        Assert.True(client.ChannelBind((ushort)channel, PeerA).IsSuccess);
        Assert.True(ChannelRelays(client, (ushort)channel));
    }

    [Theory]
    [InlineData(0x0000)]
    [InlineData(0x3FFF)]
    [InlineData(0x8000)]
    [InlineData(0xFFFF)]
    public void Channel_numbers_outside_0x4000_to_0x7FFF_are_rejected_with_400(int channel)
    {
        (_, TurnTestClient client, Allocation allocation) = Allocated();

        Assert.Equal(StunErrorCode.BadRequest, client.ChannelBind((ushort)channel, PeerA).ErrorCode);
        Assert.Equal(0, allocation.ChannelCount);
        Assert.Equal(0, allocation.PermissionCount);
    }

    [Fact]
    public void ChannelBind_without_channel_number_or_peer_is_rejected_with_400()
    {
        (_, TurnTestClient client, _) = Allocated();

        Assert.Equal(StunErrorCode.BadRequest, client.Send(new StunRequest(StunMethod.ChannelBind).XorPeerAddress(PeerA)).ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, client.Send(new StunRequest(StunMethod.ChannelBind).ChannelNumber(0x4000)).ErrorCode);
    }

    [Fact]
    public void Binding_a_bound_channel_to_another_peer_is_rejected_with_400()
    {
        (_, TurnTestClient client, _) = Allocated();
        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);

        Assert.Equal(StunErrorCode.BadRequest, client.ChannelBind(0x4000, PeerB).ErrorCode);
        // The same IP on another port is another transport address, so another peer.
        Assert.Equal(StunErrorCode.BadRequest, client.ChannelBind(0x4000, PeerA.WithPort(5001)).ErrorCode);
    }

    [Fact]
    public void Binding_a_bound_peer_to_another_channel_is_rejected_with_400()
    {
        (_, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);

        Assert.Equal(StunErrorCode.BadRequest, client.ChannelBind(0x4001, PeerA).ErrorCode);
        Assert.Equal(1, allocation.ChannelCount);
    }

    [Fact]
    public void Rebinding_the_same_channel_and_peer_refreshes_the_binding()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);
        host.Time.AdvanceSeconds(500);

        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);

        // The first binding would have expired at 600 s; the rebind at 500 s holds it (and the permission) to 800+ s.
        host.Time.AdvanceSeconds(200);
        host.Server.Tick();
        Assert.True(ChannelRelays(client, 0x4000));
        Assert.Equal(1, allocation.ChannelCount);
    }

    [Fact]
    public void ChannelBind_installs_a_permission_for_the_peer()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();

        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);

        Assert.Equal(1, allocation.PermissionCount);
        Assert.Equal(TurnActionKind.SendToPeer, client.Handle(TurnTestClient.SendIndication(PeerA.WithPort(1234), [7]), out _).Kind);
        Assert.Equal(TurnActionKind.SendToClient, host.DeliverFromPeer(allocation, PeerA.WithPort(1234), [7]).Action.Kind);
    }

    [Fact]
    public void ChannelBind_to_a_refused_peer_is_rejected_with_403()
    {
        (_, TurnTestClient client, Allocation allocation) = Allocated();

        Assert.Equal(StunErrorCode.Forbidden, client.ChannelBind(0x4000, TurnTestHost.Address("192.168.1.1", 5000)).ErrorCode);
        Assert.Equal(0, allocation.ChannelCount);
        Assert.Equal(0, allocation.PermissionCount);
    }

    [Fact]
    public void ChannelBind_to_a_peer_of_another_family_is_rejected_with_443()
    {
        (_, TurnTestClient client, _) = Allocated();

        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, client.ChannelBind(0x4000, TurnTestHost.Address("2606:4700::1111", 5000)).ErrorCode);
    }

    [Fact]
    public void Channels_beyond_the_per_allocation_limit_are_rejected_with_508()
    {
        (_, TurnTestClient client, _) = Allocated(TurnTestHost.CreateOptions(maxChannelsPerAllocation: 1));
        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);

        Assert.Equal(StunErrorCode.InsufficientCapacity, client.ChannelBind(0x4001, PeerB).ErrorCode);
        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);
    }

    [Fact]
    public void ChannelBind_to_a_new_peer_counts_against_the_permission_limit()
    {
        (_, TurnTestClient client, Allocation allocation) = Allocated(TurnTestHost.CreateOptions(maxPermissionsPerAllocation: 1));
        Assert.True(client.CreatePermission(PeerA).IsSuccess);

        Assert.Equal(StunErrorCode.InsufficientCapacity, client.ChannelBind(0x4000, PeerB).ErrorCode);
        Assert.Equal(1, allocation.PermissionCount);
        // A channel to a peer that already has a permission needs no new one.
        Assert.True(client.ChannelBind(0x4001, PeerA).IsSuccess);
    }

    [Fact]
    public void Channel_expires_after_600_seconds()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);
        // Keep the permission alive on its own (300 s) so that only the channel's lifetime counts.
        host.Time.AdvanceSeconds(290);
        Assert.True(client.CreatePermission(PeerA).IsSuccess);
        host.Time.AdvanceSeconds(290);
        Assert.True(client.CreatePermission(PeerA).IsSuccess);

        host.Time.AdvanceMilliseconds(19_999);
        host.Server.Tick();
        Assert.True(ChannelRelays(client, 0x4000));
        Assert.Equal(TurnActionKind.SendToClient, host.DeliverFromPeer(allocation, PeerA, [1]).Action.Kind);
        Assert.Equal(0x40, host.DeliverFromPeer(allocation, PeerA, [1]).Bytes[0]);

        host.Time.AdvanceMilliseconds(1);
        host.Server.Tick();
        Assert.False(ChannelRelays(client, 0x4000));
        // The peer still has a permission: its datagrams now arrive as Data indications.
        PeerDelivery delivery = host.DeliverFromPeer(allocation, PeerA, [1]);
        Assert.Equal(TurnActionKind.SendToClient, delivery.Action.Kind);
        Assert.Equal(StunMethod.Data, new StunResponse(delivery.Bytes).Method);
    }

    [Fact]
    public void Channel_does_not_relay_once_its_permission_expired()
    {
        // RFC 8656 §12: the channel's lifetime (600 s) does not keep the permission (300 s) alive.
        (TurnTestHost host, TurnTestClient client, _) = Allocated();
        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);

        host.Time.AdvanceSeconds(300);

        Assert.False(ChannelRelays(client, 0x4000));
    }

    [Fact]
    public void Expired_channel_number_cannot_be_bound_to_another_peer_for_5_minutes()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);

        host.Time.AdvanceSeconds(600);
        host.Server.Tick();
        Assert.False(ChannelRelays(client, 0x4000));
        Assert.Equal(StunErrorCode.BadRequest, client.ChannelBind(0x4000, PeerB).ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, client.ChannelBind(0x4001, PeerA).ErrorCode);

        host.Time.AdvanceMilliseconds(299_999);
        host.Server.Tick();
        Assert.Equal(StunErrorCode.BadRequest, client.ChannelBind(0x4000, PeerB).ErrorCode);

        host.Time.AdvanceMilliseconds(1);
        host.Server.Tick();
        Assert.Equal(0, allocation.ChannelCount);
        Assert.True(client.ChannelBind(0x4000, PeerB).IsSuccess);
        Assert.True(client.ChannelBind(0x4001, PeerA).IsSuccess);
    }

    [Fact]
    public void Expired_channel_can_be_bound_again_to_the_same_peer_at_once()
    {
        (TurnTestHost host, TurnTestClient client, _) = Allocated();
        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);
        host.Time.AdvanceSeconds(601);
        host.Server.Tick();

        Assert.True(client.ChannelBind(0x4000, PeerA).IsSuccess);

        Assert.True(ChannelRelays(client, 0x4000));
    }
}
