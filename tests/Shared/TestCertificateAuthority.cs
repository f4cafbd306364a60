using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeRelay.Tests.Shared;

/// <summary>
/// A certificate authority of the test's own (ECDSA P-256, which OpenSSL 3 and so Debian 12's nginx
/// take as they are), standing in for the public CA a real cloud host has. A client under test trusts
/// this CA only (<see cref="X509ChainTrustMode.CustomRootTrust"/>); a second <see cref="Create"/> gives
/// an unrelated CA whose certificates that client must refuse.
/// </summary>
internal sealed class TestCertificateAuthority : IDisposable
{
    private readonly ECDsa _key;
    private readonly string _directory;

    private TestCertificateAuthority(string name, ECDsa key, X509Certificate2 certificate, string directory)
    {
        Name = name;
        _key = key;
        _directory = directory;
        // Only the public part leaves: a trust store needs nothing more.
        Certificate = X509CertificateLoader.LoadCertificate(certificate.RawData);
        CertificatePem = certificate.ExportCertificatePem();
        CertificatePath = Path.Combine(directory, "ca.pem");
        File.WriteAllText(CertificatePath, CertificatePem + "\n");
    }

    public string Name { get; }

    /// <summary>The CA certificate (public part), for <see cref="X509ChainPolicy.CustomTrustStore"/>.</summary>
    public X509Certificate2 Certificate { get; }

    public string CertificatePem { get; }

    /// <summary>The CA certificate as a PEM file, in a directory of this CA's own.</summary>
    public string CertificatePath { get; }

    public static TestCertificateAuthority Create(string name = "EdgeRelay Test CA")
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}, O=EdgeRelay tests"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        string directory = FixtureDirectories.Create(FixtureDirectories.CertificateAuthorityPrefix);
        return new TestCertificateAuthority(name, key, certificate, directory);
    }

    /// <summary>
    /// A server certificate signed by this CA for <paramref name="dnsName"/> and the given addresses
    /// (127.0.0.1 and ::1 when none are given), written into <paramref name="directory"/> as a full
    /// chain (leaf, then this CA) and a PKCS#8 key, the two files nginx's ssl_certificate and
    /// ssl_certificate_key want.
    /// </summary>
    public ServerCertificateFiles IssueServerCertificate(string directory, string dnsName = "localhost", params IPAddress[] ipAddresses) =>
        IssueServerCertificate(directory, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(30), dnsName, ipAddresses);

    /// <summary>The same, valid from <paramref name="notBefore"/> to <paramref name="notAfter"/> (a certificate a clock that is wrong would refuse).</summary>
    public ServerCertificateFiles IssueServerCertificate(string directory, DateTimeOffset notBefore, DateTimeOffset notAfter, string dnsName = "localhost",
        params IPAddress[] ipAddresses)
    {
        if (ipAddresses.Length == 0)
        {
            ipAddresses = [IPAddress.Loopback, IPAddress.IPv6Loopback];
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={dnsName}"), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(dnsName);
        foreach (IPAddress address in ipAddresses)
        {
            san.AddIpAddress(address);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using (X509Certificate2 issuerPublic = X509CertificateLoader.LoadCertificate(Certificate.RawData))
        {
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuerPublic, true, false));
        }

        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive serial number (RFC 5280 §4.1.2.2)
        using X509Certificate2 leaf = request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(_key), notBefore, notAfter, serial);

        Directory.CreateDirectory(directory);
        string chainPath = Path.Combine(directory, "server.chain.pem");
        string keyPath = Path.Combine(directory, "server.key.pem");
        File.WriteAllText(chainPath, leaf.ExportCertificatePem() + "\n" + CertificatePem + "\n");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        return new ServerCertificateFiles(chainPath, keyPath, X509CertificateLoader.LoadCertificate(leaf.RawData));
    }

    /// <summary>
    /// What a client that trusts this CA alone checks: the chain must end at this CA (no system roots),
    /// and the name check stays on.
    /// </summary>
    public X509ChainPolicy CreateChainPolicy()
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.Add(Certificate);
        return policy;
    }

    /// <summary>An HTTP handler that trusts this CA alone, does not follow redirects and uses no proxy.</summary>
    public SocketsHttpHandler CreateTrustingHandler() => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = CreateChainPolicy() },
    };

    public void Dispose()
    {
        _key.Dispose();
        Certificate.Dispose();
        FixtureDirectories.Delete(_directory);
    }
}
