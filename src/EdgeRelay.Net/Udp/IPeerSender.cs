using EdgeRelay.Stun;

namespace EdgeRelay.Net.Udp;

/// <summary>A relay socket as seen from a thread that is not its loop's: it sends one datagram to a peer.</summary>
internal interface IPeerSender
{
    void SendToPeer(ReadOnlySpan<byte> data, in TransportAddress peer, ScratchAddresses scratch);
}
