namespace EdgeRelay.Tests.Shared;

internal sealed class NginxServerOptions
{
    /// <summary>
    /// The CA that signs the server's certificate. When null the server makes a CA of its own and
    /// disposes it with itself. A CA passed in stays the caller's to dispose.
    /// </summary>
    public TestCertificateAuthority? CertificateAuthority { get; init; }

    /// <summary>When set, every request (documents and /report) without <c>Authorization: Bearer TOKEN</c> gets 401.</summary>
    public string? DeviceToken { get; init; }

    public NginxMode Mode { get; init; } = NginxMode.Serve;

    /// <summary>
    /// When set, the server's certificate is valid from NotBefore to NotAfter instead of an hour ago to 30 days
    /// ahead: a certificate not yet valid (or expired) by the real clock, as a box with a wrong clock sees a good one.
    /// </summary>
    public (DateTimeOffset NotBefore, DateTimeOffset NotAfter)? ServerCertificateValidity { get; init; }

    /// <summary>When set, files under /releases/ are sent at this many bytes a second (nginx's limit_rate).</summary>
    public int? ReleaseBytesPerSecond { get; init; }
}
