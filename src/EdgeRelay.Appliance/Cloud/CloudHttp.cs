using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace EdgeRelay.Appliance.Cloud;

/// <summary>The HTTP client settings of everything that talks to the cloud.</summary>
public static class CloudHttp
{
    /// <summary>
    /// Connect timeout, no automatic redirects (they are followed by hand, and a redirect to http:// is
    /// refused), no decompression, and, with <see cref="CloudOptions.CaCertificate"/>, that CA as the only root.
    /// </summary>
    /// <param name="certificateTimes">Told of a certificate refused for its validity period only, so that a wrong clock can be named as the cause.</param>
    public static HttpMessageHandler CreateHandler(CloudOptions options, CertificateTimeFailures? certificateTimes = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.Timeout,
            // Redirects are followed by hand: a redirect to http:// must be refused, and said so.
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            MaxResponseHeadersLength = 64,
        };
        handler.SslOptions = new SslClientAuthenticationOptions();
        if (options.CaCertificate is { } ca)
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.Add(ca);
            handler.SslOptions.CertificateChainPolicy = policy;
        }
        if (certificateTimes is not null)
        {
            // The decision stays the platform's (no error, no trust); the callback only looks at why it said no.
            handler.SslOptions.RemoteCertificateValidationCallback = (sender, _, chain, errors) =>
            {
                if (errors == SslPolicyErrors.RemoteCertificateChainErrors && chain is not null)
                {
                    certificateTimes.Inspect((sender as SslStream)?.TargetHostName ?? "the cloud", chain);
                }
                return errors == SslPolicyErrors.None;
            };
        }
        return handler;
    }

    /// <summary>An exception's message with its inner ones: "The SSL connection could not be established" alone says too little.</summary>
    public static string Describe(Exception e)
    {
        var parts = new List<string>();
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            if (!parts.Contains(current.Message))
            {
                parts.Add(current.Message);
            }
        }
        return string.Join(": ", parts);
    }
}

/// <summary>
/// The last certificate chain the cloud's TLS refused for its validity period alone (X509ChainStatusFlags
/// NotTimeValid): with a clock in doubt, that is the clock's fault, not the cloud's. The puller polls one
/// request at a time, so one slot is enough; it is taken when the request fails.
/// </summary>
public sealed class CertificateTimeFailures
{
    private readonly Lock _gate = new();
    private CertificateTimeFailure? _last;

    /// <summary>Notes the chain's first certificate that is out of its validity period, when nothing else is wrong with the chain.</summary>
    public void Inspect(string host, X509Chain chain)
    {
        const X509ChainStatusFlags timeOnly = X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.NotTimeNested;
        X509ChainStatusFlags flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, status) => all | status.Status);
        if ((flags & X509ChainStatusFlags.NotTimeValid) == 0 || (flags & ~timeOnly) != 0)
        {
            return;
        }
        foreach (X509ChainElement element in chain.ChainElements)
        {
            if (element.ChainElementStatus.Any(status => (status.Status & X509ChainStatusFlags.NotTimeValid) != 0))
            {
                lock (_gate)
                {
                    _last = new CertificateTimeFailure(host, element.Certificate.NotBefore.ToUniversalTime(), element.Certificate.NotAfter.ToUniversalTime());
                }
                return;
            }
        }
    }

    /// <summary>The failure noted since the last call, if any.</summary>
    public CertificateTimeFailure? Take()
    {
        lock (_gate)
        {
            CertificateTimeFailure? last = _last;
            _last = null;
            return last;
        }
    }
}

/// <summary>A certificate of <paramref name="Host"/>'s chain, valid from <paramref name="NotBefore"/> to <paramref name="NotAfter"/>, that the clock put outside that span.</summary>
public sealed record CertificateTimeFailure(string Host, DateTimeOffset NotBefore, DateTimeOffset NotAfter);
