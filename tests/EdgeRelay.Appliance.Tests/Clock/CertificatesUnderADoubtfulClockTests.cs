using System.Net;
using EdgeRelay.Appliance.Clock;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Net;
using EdgeRelay.Tests.Shared;
using EdgeRelay.Turn;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Appliance.Tests.Clock;

/// <summary>
/// The relay's own TLS certificate, judged by a clock in doubt: a box that booted into the past sees its good
/// certificate as not yet valid, which is the clock's fault (D11), not a fault of the certificate (F3).
/// </summary>
public sealed class CertificatesUnderADoubtfulClockTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-tls-clock-").FullName;
    private readonly TestCertificateAuthority _authority = TestCertificateAuthority.Create();
    private RelayEngine _engine = null!;

    public Task InitializeAsync()
    {
        // Valid from ten days ahead: what a good certificate looks like to a clock more than ten days behind.
        ServerCertificateFiles files = _authority.IssueServerCertificate(_directory, DateTimeOffset.UtcNow.AddDays(10), DateTimeOffset.UtcNow.AddDays(100));
        int first = 49950 + Environment.ProcessId % 40 * 5;
        _engine = new RelayEngine(new TurnServerOptions
        {
            Realm = "edgerelay.test",
            RelayAddressIPv4 = IPAddress.Loopback,
            RelayPortMin = first,
            RelayPortMax = first + 4,
            Users = new Dictionary<string, string> { ["alice"] = "alice-password" },
        }, TimeProvider.System, loops: 1);
        _engine.Start([new ListenerOptions(TransportProtocol.Tls, new IPEndPoint(IPAddress.Loopback, 0), files.ChainPath, files.KeyPath)]);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _engine.DisposeAsync();
        _authority.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Unsynchronised_the_certificate_is_not_judged_and_synchronised_it_is()
    {
        var model = new StatusModel(TimeProvider.System);
        model.SetStarting(false);
        var kernel = new FakeClockStateSource(new KernelClockReading(ClockSynchronisation.Unsynchronised, 16, "adjtimex"));
        using var clock = new ClockMonitor(kernel, model, TimeProvider.System, NullLogger.Instance);
        clock.Poll();
        using var observer = new RelayObserver(_engine, model, TimeProvider.System, clock: clock);

        observer.Sample();
        Assert.Equal([StatusReasons.ClockUnsynchronised], model.Current.Reasons);

        kernel.Reading = new KernelClockReading(ClockSynchronisation.Synchronised, 0.01, "adjtimex");
        clock.Poll();
        observer.Sample();
        Assert.Equal([StatusReasons.TlsCertificateUnusable], model.Current.Reasons);
    }
}
