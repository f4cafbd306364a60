namespace EdgeRelay.Net.Streams;

/// <summary>
/// Bounds on TCP and TLS clients, so that many, slow or half-open connections cannot exhaust the box
/// while it keeps serving the clients that behave.
/// </summary>
public sealed record StreamLimits
{
    public int MaxConnections { get; init; } = 1000;
    public int MaxConnectionsPerAddress { get; init; } = 32;

    /// <summary>A connection without an allocation that completes no message for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes queued towards one client; beyond it, packets to that client are dropped (as UDP would).</summary>
    public int MaxBufferedBytes { get; init; } = 256 * 1024;

    public TimeSpan TlsHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
