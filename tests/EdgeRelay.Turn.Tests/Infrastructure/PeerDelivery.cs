namespace EdgeRelay.Turn.Tests.Infrastructure;

/// <summary>A peer datagram handed to the core, the buffer it sat in, and what the core asked for.</summary>
public sealed record PeerDelivery(TurnAction Action, byte[] Buffer, int PayloadOffset)
{
    public byte[] Bytes => Action.GetBytes(Buffer, default).ToArray();
}
