using EdgeRelay.Stun;

namespace EdgeRelay.Net.Udp;

/// <summary>
/// Whatever reaches a client: the UDP listener the client talks to (and later a TCP or TLS
/// connection). The TURN core keeps it as an opaque context on the allocation.
/// </summary>
internal interface IClientSender
{
    /// <summary>Sends to the client; <paramref name="scratch"/> belongs to the calling loop.</summary>
    void SendToClient(ReadOnlySpan<byte> data, in TransportAddress client, ScratchAddresses scratch);
}
