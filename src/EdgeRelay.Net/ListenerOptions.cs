using System.Net;
using EdgeRelay.Turn;

namespace EdgeRelay.Net;

/// <summary>One listener: its transport, where it binds, and for TLS the PEM files of its certificate.</summary>
public sealed record ListenerOptions(TransportProtocol Protocol, IPEndPoint Endpoint, string? CertificatePath = null, string? PrivateKeyPath = null)
{
    public static ListenerOptions Udp(IPEndPoint endpoint) => new(TransportProtocol.Udp, endpoint);
}
