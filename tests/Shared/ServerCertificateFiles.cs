using System.Security.Cryptography.X509Certificates;

namespace EdgeRelay.Tests.Shared;

/// <summary>
/// A server certificate as files: <paramref name="ChainPath"/> holds the leaf then its CA (PEM), for
/// nginx's ssl_certificate; <paramref name="KeyPath"/> the PKCS#8 private key (PEM).
/// </summary>
internal sealed record ServerCertificateFiles(string ChainPath, string KeyPath, X509Certificate2 Certificate);
