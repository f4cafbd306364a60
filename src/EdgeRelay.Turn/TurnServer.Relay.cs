using System.Buffers.Binary;
using System.Diagnostics;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Turn;

public sealed partial class TurnServer
{
    /// <summary>
    /// ChannelData from a client (RFC 8656 §12.6): two table lookups and two time comparisons, no parsing
    /// beyond the 4-byte header and no allocation. Receiving it refreshes nothing.
    /// </summary>
    private TurnAction HandleChannelData(in FiveTuple fiveTuple, ReadOnlySpan<byte> packet)
    {
        if (!ChannelData.TryRead(packet, out ushort channel, out int length))
        {
            Counters.MalformedPackets++;
            return TurnAction.None;
        }
        if (!_allocations.TryGetValue(fiveTuple, out Allocation? allocation))
        {
            Counters.DroppedNoAllocation++;
            return TurnAction.None;
        }
        long now = _clock.NowMs;
        ChannelBinding? binding = allocation.FindChannel(channel);
        if (binding is null || !binding.CanRelay(now) || !allocation.IsAlive(now))
        {
            Counters.DroppedNoPermission++;
            return TurnAction.None;
        }
        CountToPeer(allocation, length);
        // The binding's peer was checked against the allocation's families when it was bound.
        return TurnAction.ToPeer(allocation, allocation.GetRelay(binding.Peer.Family)!, ChannelData.HeaderLength, length, binding.Peer);
    }

    /// <summary>
    /// RFC 8656 §11.2: a Send indication needs XOR-PEER-ADDRESS, DATA and a permission for the peer;
    /// anything short of that is dropped in silence, and it refreshes no permission.
    /// </summary>
    private TurnAction HandleSendIndication(in FiveTuple fiveTuple, in StunMessageReader indication)
    {
        // RFC 8489 §6.3.2: an indication with an unknown comprehension-required attribute is discarded.
        Span<ushort> unknown = stackalloc ushort[1];
        if (indication.CollectUnknownComprehensionRequired(unknown) > 0)
        {
            Counters.MalformedPackets++;
            return TurnAction.None;
        }
        if (!_allocations.TryGetValue(fiveTuple, out Allocation? allocation))
        {
            Counters.DroppedNoAllocation++;
            return TurnAction.None;
        }
        if (!indication.TryGetXorAddress(StunAttributeType.XorPeerAddress, out TransportAddress peer)
            || !indication.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> data, out int dataOffset))
        {
            Counters.MalformedPackets++;
            return TurnAction.None;
        }
        long now = _clock.NowMs;
        Permission? permission = allocation.FindPermission(peer);
        RelayedTransport? relay = allocation.GetRelay(peer.Family);
        if (permission is null || !permission.IsValid(now) || !allocation.IsAlive(now) || relay is null)
        {
            Counters.DroppedNoPermission++;
            return TurnAction.None;
        }
        if (permission.PortRestriction != PortRestriction.None && !_options.PeerPolicy.IsPortAllowed(permission.PortRestriction, peer.Port))
        {
            // A permission is per IP address; on the relay's own address only its relay ports are peers.
            Counters.CountPeerRefusal(PeerDecision.RefusedOwnService);
            return TurnAction.None;
        }
        CountToPeer(allocation, data.Length);
        return TurnAction.ToPeer(allocation, relay, dataOffset, data.Length, peer);
    }

    /// <summary>
    /// A UDP datagram from <paramref name="peer"/> arrived at the allocation's relayed address
    /// (RFC 8656 §11.3 and §12.7). The payload sits at <paramref name="payloadOffset"/> in
    /// <paramref name="buffer"/>, with at least <see cref="PeerDataHeadroom"/> bytes free before it and
    /// <see cref="PeerDataTailroom"/> after it: the ChannelData or Data indication header is written in
    /// front of the payload, so nothing is copied.
    /// </summary>
    public TurnAction HandlePeerDatagram(Allocation allocation, in TransportAddress peer, Span<byte> buffer, int payloadOffset, int payloadLength)
    {
        Debug.Assert(payloadOffset >= PeerDataHeadroom && buffer.Length - payloadOffset - payloadLength >= PeerDataTailroom);
        long now = _clock.NowMs;
        if (!allocation.IsAlive(now) || payloadLength > MaxPeerPayload)
        {
            return TurnAction.None;
        }
        Permission? permission = allocation.FindPermission(peer);
        if (permission is null || !permission.IsValid(now))
        {
            Counters.DroppedNoPermission++;
            return TurnAction.None;
        }
        allocation.PacketsFromPeers++;
        allocation.BytesFromPeers += payloadLength;
        Counters.PacketsFromPeers++;
        Counters.BytesFromPeers += payloadLength;

        bool stream = allocation.FiveTuple.Protocol.IsStream();
        ChannelBinding? binding = allocation.FindChannel(peer);
        if (binding is not null && now < binding.ExpiresAtMs)
        {
            // §12.7: a bound channel means ChannelData, padded to 4 bytes on a stream (§12.5).
            int start = payloadOffset - ChannelData.HeaderLength;
            ChannelData.WriteHeader(buffer[start..], binding.ChannelNumber, payloadLength);
            int length = ChannelData.HeaderLength + payloadLength;
            if (stream)
            {
                int padded = StunPadding.Pad4(length);
                buffer.Slice(start + length, padded - length).Clear();
                length = padded;
            }
            return TurnAction.ToClient(start, length, allocation.FiveTuple.Client, allocation.ClientContext);
        }

        // §11.3: otherwise a Data indication with XOR-PEER-ADDRESS and DATA.
        int headerLength = StunConstants.HeaderLength + StunConstants.AttributeHeaderLength
                           + StunAddressCodec.GetValueLength(peer) + StunConstants.AttributeHeaderLength;
        int messageStart = payloadOffset - headerLength;
        Span<byte> transactionId = stackalloc byte[StunConstants.TransactionIdLength];
        NextIndicationId(transactionId);
        var writer = new StunMessageWriter(buffer[messageStart..], StunMethod.Data, StunClass.Indication, transactionId);
        writer.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        // The DATA value is where the payload already is: AddAttribute only writes its header and padding.
        writer.AddAttribute(StunAttributeType.Data, payloadLength);
        return TurnAction.ToClient(messageStart, writer.Length, allocation.FiveTuple.Client, allocation.ClientContext);
    }

    /// <summary>
    /// Indications are never matched to anything, so their transaction IDs need only be distinct: a random
    /// prefix and a counter, instead of the random generator on every relayed packet.
    /// </summary>
    private void NextIndicationId(Span<byte> transactionId)
    {
        BinaryPrimitives.WriteInt64BigEndian(transactionId, _indicationIdPrefix);
        BinaryPrimitives.WriteUInt32BigEndian(transactionId[8..], ++_indicationCounter);
    }

    private void CountToPeer(Allocation allocation, int length)
    {
        allocation.PacketsToPeers++;
        allocation.BytesToPeers += length;
        Counters.PacketsToPeers++;
        Counters.BytesToPeers += length;
    }
}
