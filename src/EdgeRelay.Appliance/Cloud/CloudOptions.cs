using System.Security.Cryptography.X509Certificates;

namespace EdgeRelay.Appliance.Cloud;

/// <summary>The <c>cloud</c> section: where the box's configuration comes from and whose signature it needs.</summary>
public sealed record CloudOptions
{
    /// <summary>The signed document of this device, on any static HTTPS host.</summary>
    public required Uri Url { get; init; }

    /// <summary>Keys whose signature is accepted; several during a rotation.</summary>
    public required IReadOnlyList<TrustedKey> TrustedKeys { get; init; }

    /// <summary>Sent as <c>Authorization: Bearer …</c>; never logged.</summary>
    public string? DeviceToken { get; init; }

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>For one whole request: connect, TLS, headers and body.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The longest wait between tries while the cloud cannot be reached.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(15);

    public int MaxDocumentBytes { get; init; } = 1024 * 1024;

    /// <summary>A CA to trust instead of the system's (a private cloud, tests); null: the system's roots.</summary>
    public X509Certificate2? CaCertificate { get; init; }

    /// <summary>Where to POST what the box runs, after each apply and every <see cref="ReportInterval"/>; null: no report.</summary>
    public Uri? ReportUrl { get; init; }
    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Keys whose signature a release manifest needs (bootstrap only); null: <see cref="TrustedKeys"/>, those in force.</summary>
    public IReadOnlyList<TrustedKey>? ReleaseKeys { get; init; }

    /// <summary>The box's name in reports: the host name unless configured.</summary>
    public string DeviceId { get; init; } = Environment.MachineName;
}
