using System.Buffers.Binary;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>The data path: Send and Data indications (RFC 8656 §11) and ChannelData (§12.4-§12.7).</summary>
public sealed class TurnServerRelayTests
{
    private static readonly TransportAddress Peer = TurnTestHost.Address("8.8.8.8", 5000);
    private static readonly byte[] Payload = [0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03];

    private static (TurnTestHost Host, TurnTestClient Client, Allocation Allocation) Allocated(TransportProtocol protocol = TransportProtocol.Udp)
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client(protocol: protocol);
        Allocation allocation = client.AllocateOrFail();
        return (host, client, allocation);
    }

    [Fact]
    public void Send_indication_with_permission_is_relayed_to_the_peer_with_the_exact_payload()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.CreatePermission(Peer).IsSuccess);
        byte[] indication = TurnTestClient.SendIndication(Peer, Payload);

        TurnAction action = client.Handle(indication, out byte[] response);

        Assert.Equal(TurnActionKind.SendToPeer, action.Kind);
        Assert.False(action.InResponseBuffer);
        Assert.Equal(Peer, action.Destination);
        Assert.Same(allocation, action.Allocation);
        Assert.Equal(Payload, action.GetBytes(indication, response).ToArray());
        Assert.Equal(1, host.Server.Counters.PacketsToPeers);
        Assert.Equal(Payload.Length, host.Server.Counters.BytesToPeers);
    }

    [Fact]
    public void Send_indication_with_empty_data_is_relayed_as_an_empty_datagram()
    {
        (_, TurnTestClient client, _) = Allocated();
        Assert.True(client.CreatePermission(Peer).IsSuccess);

        TurnAction action = client.Handle(TurnTestClient.SendIndication(Peer, []), out _);

        Assert.Equal(TurnActionKind.SendToPeer, action.Kind);
        Assert.Equal(0, action.Length);
    }

    [Fact]
    public void Send_indication_without_permission_is_dropped()
    {
        (TurnTestHost host, TurnTestClient client, _) = Allocated();
        Assert.True(client.CreatePermission(TurnTestHost.Address("1.1.1.1", 5000)).IsSuccess);

        TurnAction action = client.Handle(TurnTestClient.SendIndication(Peer, Payload), out _);

        Assert.Equal(TurnActionKind.None, action.Kind);
        Assert.Equal(1, host.Server.Counters.DroppedNoPermission);
    }

    [Fact]
    public void Send_indication_without_data_or_peer_is_dropped()
    {
        (_, TurnTestClient client, _) = Allocated();
        Assert.True(client.CreatePermission(Peer).IsSuccess);

        Assert.Equal(TurnActionKind.None, client.Handle(new StunRequest(StunMethod.Send, StunClass.Indication).XorPeerAddress(Peer).Encode(), out _).Kind);
        Assert.Equal(TurnActionKind.None, client.Handle(new StunRequest(StunMethod.Send, StunClass.Indication).Data(Payload).Encode(), out _).Kind);
    }

    [Fact]
    public void Send_indication_without_allocation_is_dropped()
    {
        var host = new TurnTestHost();

        Assert.Equal(TurnActionKind.None, host.Client().Handle(TurnTestClient.SendIndication(Peer, Payload), out _).Kind);
        Assert.Equal(1, host.Server.Counters.DroppedNoAllocation);
    }

    [Fact]
    public void ChannelData_from_the_client_is_relayed_to_the_bound_peer()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.ChannelBind(0x4001, Peer).IsSuccess);
        byte[] message = TurnTestClient.ChannelDataMessage(0x4001, Payload, padding: 1);

        TurnAction action = client.Handle(message, out byte[] response);

        Assert.Equal(TurnActionKind.SendToPeer, action.Kind);
        Assert.Equal(Peer, action.Destination);
        Assert.Same(allocation, action.Allocation);
        Assert.Equal(ChannelData.HeaderLength, action.Offset);
        Assert.Equal(Payload, action.GetBytes(message, response).ToArray());
        Assert.Equal(1, allocation.PacketsToPeers);
        Assert.Equal(Payload.Length, allocation.BytesToPeers);
    }

    [Fact]
    public void ChannelData_on_an_unbound_channel_is_dropped()
    {
        (_, TurnTestClient client, _) = Allocated();
        Assert.True(client.ChannelBind(0x4001, Peer).IsSuccess);

        Assert.Equal(TurnActionKind.None, client.Handle(TurnTestClient.ChannelDataMessage(0x4002, Payload), out _).Kind);
    }

    [Fact]
    public void ChannelData_longer_than_the_datagram_is_dropped()
    {
        (TurnTestHost host, TurnTestClient client, _) = Allocated();
        Assert.True(client.ChannelBind(0x4001, Peer).IsSuccess);
        byte[] message = TurnTestClient.ChannelDataMessage(0x4001, Payload);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)(Payload.Length + 1));

        Assert.Equal(TurnActionKind.None, client.Handle(message, out _).Kind);
        Assert.Equal(1, host.Server.Counters.MalformedPackets);
    }

    [Fact]
    public void ChannelData_from_a_five_tuple_without_allocation_is_dropped()
    {
        (TurnTestHost host, TurnTestClient client, _) = Allocated();
        Assert.True(client.ChannelBind(0x4001, Peer).IsSuccess);

        TurnTestClient stranger = host.Client(clientPort: 40001);

        Assert.Equal(TurnActionKind.None, stranger.Handle(TurnTestClient.ChannelDataMessage(0x4001, Payload), out _).Kind);
    }

    [Fact]
    public void Peer_datagram_on_a_bound_channel_becomes_channel_data_written_in_place()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.ChannelBind(0x4ABC, Peer).IsSuccess);

        PeerDelivery delivery = host.DeliverFromPeer(allocation, Peer, Payload);

        TurnAction action = delivery.Action;
        Assert.Equal(TurnActionKind.SendToClient, action.Kind);
        Assert.False(action.InResponseBuffer);
        Assert.Equal(client.FiveTuple.Client, action.Destination);
        Assert.Same(client.ClientContext, action.ClientContext);
        Assert.Equal(delivery.PayloadOffset - ChannelData.HeaderLength, action.Offset);
        // UDP: no padding.
        Assert.Equal(ChannelData.HeaderLength + Payload.Length, action.Length);
        Assert.Equal([0x4A, 0xBC, 0x00, (byte)Payload.Length, .. Payload], delivery.Bytes);
        Assert.Equal(1, allocation.PacketsFromPeers);
        Assert.Equal(Payload.Length, allocation.BytesFromPeers);
    }

    [Fact]
    public void Peer_datagram_from_another_port_of_a_channel_peer_becomes_a_data_indication()
    {
        // A channel is bound to a transport address; the permission is for the IP address.
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.ChannelBind(0x4ABC, Peer).IsSuccess);

        PeerDelivery delivery = host.DeliverFromPeer(allocation, Peer.WithPort(5001), Payload);

        var indication = new StunResponse(delivery.Bytes);
        Assert.Equal(StunMethod.Data, indication.Method);
        Assert.Equal(Peer.WithPort(5001), indication.GetXorAddress(StunAttributeType.XorPeerAddress));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(1200)]
    public void Peer_datagram_without_channel_becomes_a_data_indication(int length)
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.CreatePermission(Peer).IsSuccess);
        byte[] payload = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();

        PeerDelivery delivery = host.DeliverFromPeer(allocation, Peer, payload);

        Assert.Equal(TurnActionKind.SendToClient, delivery.Action.Kind);
        Assert.Equal(client.FiveTuple.Client, delivery.Action.Destination);
        Assert.Same(client.ClientContext, delivery.Action.ClientContext);
        var indication = new StunResponse(delivery.Bytes);
        Assert.Equal(StunMethod.Data, indication.Method);
        Assert.Equal(StunClass.Indication, indication.Class);
        Assert.Equal(Peer, indication.GetXorAddress(StunAttributeType.XorPeerAddress));
        Assert.Equal(payload, indication.Get(StunAttributeType.Data));
        Assert.Equal(0, delivery.Action.Length % 4);
        // Padding bytes are zero, not what was in the buffer.
        Assert.All(delivery.Bytes.AsSpan(delivery.Bytes.Length - (StunPadding.Pad4(length) - length)).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Data_indications_carry_distinct_transaction_ids()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.CreatePermission(Peer).IsSuccess);

        byte[] first = new StunResponse(host.DeliverFromPeer(allocation, Peer, Payload).Bytes).TransactionId;
        byte[] second = new StunResponse(host.DeliverFromPeer(allocation, Peer, Payload).Bytes).TransactionId;

        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Peer_datagram_without_permission_is_dropped()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.CreatePermission(TurnTestHost.Address("1.1.1.1", 5000)).IsSuccess);

        PeerDelivery delivery = host.DeliverFromPeer(allocation, Peer, Payload);

        Assert.Equal(TurnActionKind.None, delivery.Action.Kind);
        Assert.Equal(0, allocation.PacketsFromPeers);
        Assert.Equal(1, host.Server.Counters.DroppedNoPermission);
    }

    [Fact]
    public void Peer_datagram_for_a_deleted_allocation_is_dropped()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated();
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);
        Assert.True(client.Refresh(0).IsSuccess);

        Assert.Equal(TurnActionKind.None, host.DeliverFromPeer(allocation, Peer, Payload).Action.Kind);
    }

    [Theory]
    [InlineData(TransportProtocol.Tcp)]
    [InlineData(TransportProtocol.Tls)]
    public void Channel_data_to_a_stream_client_is_padded_to_a_multiple_of_4(TransportProtocol protocol)
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated(protocol);
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);
        byte[] payload = [1, 2, 3, 4, 5];

        PeerDelivery delivery = host.DeliverFromPeer(allocation, Peer, payload, tailFill: 0xEE);

        Assert.Equal(TurnActionKind.SendToClient, delivery.Action.Kind);
        Assert.Equal(12, delivery.Action.Length);
        Assert.Equal([0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0], delivery.Bytes);
    }

    [Fact]
    public void Channel_data_to_a_stream_client_already_aligned_gets_no_padding()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Allocated(TransportProtocol.Tcp);
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);

        PeerDelivery delivery = host.DeliverFromPeer(allocation, Peer, [1, 2, 3, 4]);

        Assert.Equal(8, delivery.Action.Length);
    }

    [Fact]
    public void Channel_data_from_a_stream_client_may_carry_padding()
    {
        (_, TurnTestClient client, _) = Allocated(TransportProtocol.Tcp);
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);
        byte[] message = TurnTestClient.ChannelDataMessage(0x4000, [1, 2, 3, 4, 5], padding: 3);

        TurnAction action = client.Handle(message, out byte[] response);

        Assert.Equal(TurnActionKind.SendToPeer, action.Kind);
        Assert.Equal([1, 2, 3, 4, 5], action.GetBytes(message, response).ToArray());
    }
}
