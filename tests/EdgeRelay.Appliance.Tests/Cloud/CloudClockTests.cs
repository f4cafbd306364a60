using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeRelay.Appliance.Clock;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Appliance.Tests.Clock;
using EdgeRelay.Appliance.Web;
using EdgeRelay.Net;
using EdgeRelay.Turn;
using EdgeRelay.Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Appliance.Tests.Cloud;

/// <summary>
/// The clock's cross-check against the test cloud endpoint (a real nginx with TLS from a test CA): its Date
/// header, and a certificate that a wrong clock refuses, as /api/status tells them.
/// </summary>
public sealed class CloudClockTests : IAsyncLifetime, IDisposable
{
    private const string DocumentPath = "boxes/venue-12.jws";
    private readonly ECDsa _signingKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly string _stateDirectory = Directory.CreateTempSubdirectory("edgerelay-cloud-clock-").FullName;
    private readonly List<IAsyncDisposable> _disposables = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }
    }

    public void Dispose()
    {
        _signingKey.Dispose();
        Directory.Delete(_stateDirectory, recursive: true);
    }

    private async Task<NginxServer> StartCloudAsync(NginxServerOptions? options = null)
    {
        NginxServer cloud = await NginxServer.StartAsync(options);
        _disposables.Add(cloud);
        cloud.WriteDocument(DocumentPath, SignedDocument.Sign(Encoding.UTF8.GetBytes("""{ "version": 1 }"""), _signingKey));
        return cloud;
    }

    private CloudPuller<long> Puller(NginxServer cloud, StatusModel model, TimeProvider time, ClockMonitor clock)
    {
        var options = new CloudOptions
        {
            Url = cloud.UrlOf(DocumentPath),
            TrustedKeys = [TrustedKey.FromSigningKey(_signingKey)],
            Timeout = TimeSpan.FromSeconds(5),
            CaCertificate = cloud.CertificateAuthority.Certificate,
        };
        var puller = new CloudPuller<long>(options, new VersionSink(), new LastKnownGoodStore(_stateDirectory),
            new AppliedConfiguration("bootstrap", 0, null, null, options.TrustedKeys, null), model, time, NullLogger.Instance, clock: clock);
        _disposables.Add(puller);
        return puller;
    }

    private static StatusModel Model(TimeProvider time)
    {
        var model = new StatusModel(time);
        model.SetStarting(false);
        return model;
    }

    [Fact]
    public async Task A_cloud_Date_far_from_the_box_s_clock_shows_D11_with_the_offset_on_api_status()
    {
        // nginx writes Date from its own clock, and neither add_header nor anything else in Debian's nginx can
        // replace it (that takes the headers-more module). A box whose clock is two hours behind sees the same
        // offset, so the box's clock is what is set off here.
        var time = new OffsetTimeProvider(TimeSpan.FromHours(-2));
        StatusModel model = Model(time);
        // Under the systemd unit, adjtimex is refused and no timesyncd may run: only the Date header can tell.
        var kernel = new FakeClockStateSource(new KernelClockReading(ClockSynchronisation.Unknown, null, "adjtimex", "adjtimex(2) is refused (EPERM)"));
        using var clock = new ClockMonitor(kernel, model, time, NullLogger.Instance);
        clock.Poll();
        Assert.Empty(model.Current.Reasons);
        NginxServer cloud = await StartCloudAsync();
        CloudPuller<long> puller = Puller(cloud, model, time, clock);

        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());

        JsonElement status = await ApiStatusAsync(model, time, clock, puller);
        Assert.Equal(["D11-clock-unsynchronised"], status.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("code").GetString()));
        Assert.Equal("DegradedClock", status.GetProperty("led").GetProperty("mode").GetString());
        JsonElement clockJson = status.GetProperty("clock");
        Assert.InRange(clockJson.GetProperty("cloudDateOffsetSeconds").GetDouble(), 7200 - 10, 7200 + 10);
        Assert.Equal("unknown", clockJson.GetProperty("state").GetString());
        Assert.False(clockJson.GetProperty("trusted").GetBoolean());
        Assert.Equal("cloud-date", clockJson.GetProperty("timeSource").GetString());
        Assert.Contains("the local clock is wrong", clockJson.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // The best time is the cloud's, not the box's.
        Assert.Equal(DateTimeOffset.UtcNow, clock.Now.UtcNow, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_cloud_certificate_refused_by_an_unsynchronised_clock_is_the_clock_s_fault_not_cloud_unreachable()
    {
        // A certificate valid from ten days ahead: what a good certificate looks like to a box whose clock is
        // more than ten days behind (the real clock is the one TLS checks against).
        NginxServer cloud = await StartCloudAsync(new NginxServerOptions
        {
            ServerCertificateValidity = (DateTimeOffset.UtcNow.AddDays(10), DateTimeOffset.UtcNow.AddDays(100)),
        });
        StatusModel model = Model(TimeProvider.System);
        var kernel = new FakeClockStateSource(new KernelClockReading(ClockSynchronisation.Unsynchronised, 16, "adjtimex"));
        using var clock = new ClockMonitor(kernel, model, TimeProvider.System, NullLogger.Instance);
        clock.Poll();
        CloudPuller<long> puller = Puller(cloud, model, TimeProvider.System, clock);

        Assert.Equal(PollOutcome.ClockWrong, await puller.PollNowAsync());

        Assert.Contains("the clock is wrong", puller.Status.LastProblem, StringComparison.Ordinal);
        Assert.Contains("days behind", puller.Status.LastProblem, StringComparison.Ordinal);
        JsonElement status = await ApiStatusAsync(model, TimeProvider.System, clock, puller);
        Assert.Equal(["D11-clock-unsynchronised"], status.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("code").GetString()));
        Assert.Equal("ClockWrong", status.GetProperty("configuration").GetProperty("cloud").GetProperty("lastOutcome").GetString());

        // With a synchronised clock the same certificate is the cloud's problem: D2, as before.
        kernel.Reading = new KernelClockReading(ClockSynchronisation.Synchronised, 0.01, "adjtimex");
        clock.Poll();
        Assert.Equal(PollOutcome.Unreachable, await puller.PollNowAsync());
        Assert.Contains("D2-cloud-unreachable", model.Current.Reasons.Select(r => r.Code));
        Assert.DoesNotContain("D11-clock-unsynchronised", model.Current.Reasons.Select(r => r.Code));
    }

    /// <summary>The status page of a real engine showing this model, clock and puller, read over HTTP.</summary>
    private async Task<JsonElement> ApiStatusAsync(StatusModel model, TimeProvider time, ClockMonitor clock, CloudPuller<long> puller)
    {
        int first = 49900 + Environment.ProcessId % 40 * 5;
        var engine = new RelayEngine(new TurnServerOptions
        {
            Realm = "edgerelay.test",
            RelayAddressIPv4 = IPAddress.Loopback,
            RelayPortMin = first,
            RelayPortMax = first + 4,
            Users = new Dictionary<string, string> { ["alice"] = "alice-password" },
        }, TimeProvider.System, loops: 1);
        _disposables.Add(engine);
        engine.Start([new IPEndPoint(IPAddress.Loopback, 0)]);
        var observer = new RelayObserver(engine, model, time);
        observer.Sample();
        var page = new StatusPage(new StatusPageOptions
        {
            Endpoint = new IPEndPoint(IPAddress.Loopback, 0),
            Version = "9.9.9",
            ConfigurationSource = "bootstrap.json",
            Cloud = () => puller.Status,
            Clock = () => clock.Status,
        }, engine, model, observer, new RecentErrors(time), time, () => { });
        await page.StartAsync(NullLoggerFactory.Instance);
        _disposables.Add(page);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{page.LocalEndPoint}/") };
        return (await http.GetFromJsonAsync<JsonElement>("api/status")).Clone();
    }

    private sealed class VersionSink : ICloudConfigurationSink<long>
    {
        public CloudCandidate<long> Validate(byte[] payload)
        {
            using JsonDocument json = JsonDocument.Parse(payload);
            long version = json.RootElement.GetProperty("version").GetInt64();
            return new CloudCandidate<long>(version, version, null, null);
        }

        public void Apply(CloudCandidate<long> candidate)
        {
        }
    }
}
