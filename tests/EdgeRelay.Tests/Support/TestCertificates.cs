using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeRelay.Tests.Support;

/// <summary>Self-signed certificates as PEM files, like the ones an operator drops into /etc/edgerelay.</summary>
public static class TestCertificates
{
    public static X509Certificate2 WritePem(string certificatePath, string keyPath, string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30));
        // Written to a temporary name and renamed, as a certificate renewal tool does.
        File.WriteAllText(keyPath + ".tmp", key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certificatePath + ".tmp", certificate.ExportCertificatePem());
        File.Move(keyPath + ".tmp", keyPath, overwrite: true);
        File.Move(certificatePath + ".tmp", certificatePath, overwrite: true);
        return certificate;
    }
}
