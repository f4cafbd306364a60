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
    public static HttpMessageHandler CreateHandler(CloudOptions options)
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
        if (options.CaCertificate is { } ca)
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.Add(ca);
            handler.SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = policy };
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
