using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using EdgeRelay.Configuration;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Transports;

/// <summary>
/// A renewed certificate is served to new TLS connections without a restart, while a client already
/// connected keeps relaying on its session.
/// </summary>
public sealed class TlsCertificateReloadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-tls-").FullName;

    [Fact]
    public async Task Replacing_the_certificate_files_serves_the_new_one_to_new_connections_and_keeps_the_old_session()
    {
        (RunningRelay relay, int port, X509Certificate2 first) = StartTlsRelay();
        await using RunningRelay running = relay;
        Assert.Equal(first.Thumbprint, await ServedThumbprintAsync(port));

        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        using (var client = ExternalProcess.Start(Coturn.Tool("turnutils_uclient"), "-t", "-S", "-u", RunningRelay.User, "-w", RunningRelay.Password,
                   "-p", port.ToString(CultureInfo.InvariantCulture), "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture),
                   "-n", "150", "-z", "20", "-m", "1", "127.0.0.1"))
        {
            // The client is relaying over its TLS session when the renewal lands.
            Assert.True(client.WaitForOutput("tot_recv_msgs=", Coturn.Timeout), client.Output);
            X509Certificate2 second = TestCertificates.WritePem(CertificatePath, KeyPath, "second");

            string served = first.Thumbprint;
            for (int attempt = 0; attempt < 50 && served != second.Thumbprint; attempt++)
            {
                await Task.Delay(200);
                served = await ServedThumbprintAsync(port);
            }
            Assert.Equal(second.Thumbprint, served);

            Assert.True(client.WaitForExit(Coturn.Timeout), client.Output);
            Coturn.AssertRelayedEverything(client.ExitCode, client.Output, 300);
        }
    }

    [Fact]
    public async Task A_broken_renewal_leaves_the_previous_certificate_in_service()
    {
        (RunningRelay relay, int port, X509Certificate2 first) = StartTlsRelay();
        await using RunningRelay running = relay;

        await File.WriteAllTextAsync(CertificatePath, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");
        await Task.Delay(1500);
        Assert.Equal(first.Thumbprint, await ServedThumbprintAsync(port));
    }

    [Fact]
    public async Task Tls_below_1_2_is_refused()
    {
        (RunningRelay relay, int port, X509Certificate2 _) = StartTlsRelay();
        await using RunningRelay running = relay;
        (int exit, string output) = ExternalProcess.Run(TimeSpan.FromSeconds(30), "openssl", "s_client", "-connect",
            $"127.0.0.1:{port}", "-tls1_1", "-brief");
        Assert.NotEqual(0, exit);
        Assert.DoesNotContain("Protocol version: TLSv1.1", output);
    }

    private string CertificatePath => Path.Combine(_directory, "tls.crt");
    private string KeyPath => Path.Combine(_directory, "tls.key");

    /// <summary>A relay with one TLS listener whose PEM files are in the test's own directory.</summary>
    private (RunningRelay Relay, int Port, X509Certificate2 Certificate) StartTlsRelay()
    {
        X509Certificate2 first = TestCertificates.WritePem(CertificatePath, KeyPath, "first");
        int port = Ports.FreeUdpPort();
        RunningRelay relay = RunningRelay.StartWith(
            [new ListenerConfiguration(ListenerTransport.Tls, new IPEndPoint(IPAddress.Loopback, port), CertificatePath, KeyPath)],
            allowLoopback: true);
        return (relay, port, first);
    }

    private static async Task<string> ServedThumbprintAsync(int port)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        X509Certificate? seen = null;
        await using var ssl = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            seen = certificate;
            return true;
        });
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
        return new X509Certificate2(seen!).Thumbprint;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
