using System.Security.Cryptography.X509Certificates;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>What to probe and with which credentials. The password is used to derive keys and never appears in a result.</summary>
public sealed record TurnProbeOptions
{
    public required TurnUrl Server { get; init; }
    public required string Username { get; init; }
    public required string Password { get; init; }

    /// <summary>Relayed echo round trips (step <c>echo</c>).</summary>
    public int Count { get; init; } = 20;

    /// <summary>How long one request waits for its answer, retransmissions included (and a connection or TLS handshake).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>TLS: trust this CA (or self-signed certificate) instead of the system's roots.</summary>
    public X509Certificate2? TrustedCertificateAuthority { get; init; }

    /// <summary>TLS: accept any certificate (a self-signed box). The traffic is still encrypted, but to whoever answers.</summary>
    public bool InsecureSkipCertificateCheck { get; init; }

    /// <summary>Overrides name resolution (the status page probes its own listener by address).</summary>
    public System.Net.IPEndPoint? ResolvedEndPoint { get; init; }
}
