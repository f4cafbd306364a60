using System.Net;
using EdgeRelay.Net.Linux;
using EdgeRelay.Net.Streams;
using EdgeRelay.Net.Udp;
using EdgeRelay.Turn;

namespace EdgeRelay.Net;

/// <summary>
/// One configured listener as the engine runs it: a UDP listener (one SO_REUSEPORT socket per batched
/// loop, or one portable socket), or a TCP or TLS listener. <see cref="Options"/> is the listener as
/// configured, so that a new configuration is matched against it by (protocol, endpoint) as written, even
/// when the endpoint said port 0 and the socket got another.
/// </summary>
internal sealed class RunningListener
{
    private RunningListener(ListenerOptions options) => Options = options;

    /// <summary>As configured; replaced when a reconfiguration keeps the endpoint but changes the certificate files.</summary>
    public ListenerOptions Options { get; set; }

    /// <summary>The batched loops' sockets, one per loop in loop order; null for other listeners.</summary>
    public BatchedUdpListener[]? Batched { get; private init; }

    /// <summary>The portable backend's UDP listener; null for other listeners.</summary>
    public UdpListener? Udp { get; private init; }

    public StreamListener? Stream { get; private init; }

    /// <summary>The receive or accept loop of a portable UDP or a stream listener, once started; batched loops run their own threads.</summary>
    public Task? Task { get; set; }

    public TransportProtocol Protocol => Options.Protocol;

    public IPEndPoint LocalEndPoint => Batched?[0].LocalEndPoint ?? Udp?.LocalEndPoint ?? Stream!.LocalEndPoint;

    public string TransportName => Protocol switch
    {
        TransportProtocol.Udp => "udp",
        TransportProtocol.Tls => "tls",
        _ => "tcp",
    };

    /// <summary>Whether this runs the listener that <paramref name="wanted"/> configures: same protocol, same endpoint as written.</summary>
    public bool Serves(ListenerOptions wanted) => wanted.Protocol == Protocol && wanted.Endpoint.Equals(Options.Endpoint);

    public static RunningListener ForBatched(ListenerOptions options, BatchedUdpListener[] sockets) => new(options) { Batched = sockets };

    public static RunningListener ForUdp(ListenerOptions options, UdpListener listener) => new(options) { Udp = listener };

    public static RunningListener ForStream(ListenerOptions options, StreamListener listener) => new(options) { Stream = listener };

    /// <summary>
    /// A stream listener that stopped accepting and whose last connection has closed. Once its accept loop
    /// has ended no connection can be added, so an empty listener stays empty.
    /// </summary>
    public bool IsDrained => Stream is { ConnectionCount: 0 } && Task is null or { IsCompleted: true };

    /// <summary>Whether <paramref name="clientContext"/> (an allocation's) is one of this listener's UDP sockets.</summary>
    public bool OwnsUdpContext(object? clientContext)
    {
        if (clientContext is null)
        {
            return false;
        }
        if (ReferenceEquals(clientContext, Udp))
        {
            return true;
        }
        foreach (BatchedUdpListener socket in Batched ?? [])
        {
            if (ReferenceEquals(clientContext, socket))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Closes everything at once: a listener bound by a reconfiguration that failed, or the engine stopping.</summary>
    public void Close()
    {
        foreach (BatchedUdpListener socket in Batched ?? [])
        {
            socket.Dispose();
        }
        Udp?.Dispose();
        Stream?.Dispose();
    }
}
