namespace EdgeRelay.Turn;

/// <summary>The transport between client and server (RFC 8656 §3.1); the relay to peers is always UDP here.</summary>
public enum TransportProtocol : byte
{
    Udp,
    Tcp,
    Tls,
}

public static class TransportProtocolExtensions
{
    /// <summary>On TCP and TLS, ChannelData is padded to a multiple of 4 (RFC 8656 §12.5).</summary>
    public static bool IsStream(this TransportProtocol protocol) => protocol != TransportProtocol.Udp;
}
