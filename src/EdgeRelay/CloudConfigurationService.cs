using System.Net;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Appliance.Web;
using EdgeRelay.Configuration;
using EdgeRelay.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeRelay;

/// <summary>What the start decided: the bootstrap file, and the configuration the relay was started with.</summary>
/// <param name="Initial">The document the relay runs (from the store, or the bootstrap as version 0) and the keys in force.</param>
internal sealed record CloudStart(RelayConfiguration Bootstrap, RelayConfiguration Running, AppliedConfiguration Initial);

/// <summary>
/// Runs the <see cref="CloudPuller{T}"/> when the bootstrap file has a <c>cloud</c> section, and applies what
/// it accepts to the running box through <see cref="RunningConfiguration"/>.
/// </summary>
internal sealed class CloudConfigurationService(
    CloudStart start, RelayEngine engine, ApplianceService appliance, RunningConfiguration running, ILoggerFactory loggerFactory)
    : IHostedService, ICloudConfigurationSink<RelayConfiguration>
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("EdgeRelay.Cloud");
    private readonly DateTimeOffset _startedAt = TimeProvider.System.GetUtcNow();
    private CloudPuller<RelayConfiguration>? _puller;
    private CloudReporter? _reporter;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (start.Bootstrap.Cloud is not { } cloud)
        {
            return Task.CompletedTask;
        }
        var store = new LastKnownGoodStore(start.Bootstrap.StateDirectory);
        _puller = new CloudPuller<RelayConfiguration>(cloud with { PollInterval = running.Current.Cloud?.PollInterval ?? cloud.PollInterval },
            this, store, start.Initial, appliance.Model, TimeProvider.System, _logger, clock: appliance.Clock);
        appliance.AttachCloud(() => _puller.Status);
        // F2: a box that has nothing to relay with (a bootstrap file with no listener) and whose cloud
        // document is refused has no good configuration at all; with one, it is only degraded (D6).
        _puller.Polled += status => appliance.Model.Set(StatusReasons.InvalidConfiguration,
            status.LastOutcome == PollOutcome.Rejected && running.Current.Listeners.Count == 0);
        if (cloud.ReportUrl is not null)
        {
            _reporter = new CloudReporter(cloud, Report, _logger);
            _puller.Applied += _ => _reporter.ReportSoon();
            _reporter.Start();
        }
        _puller.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_puller is not null)
        {
            await _puller.DisposeAsync().ConfigureAwait(false);
        }
        if (_reporter is not null)
        {
            await _reporter.DisposeAsync().ConfigureAwait(false);
        }
    }

    private CloudReport Report()
    {
        CloudStatus cloud = _puller!.Status;
        var status = appliance.Model.Current;
        var counters = engine.Server.Counters;
        DateTimeOffset now = TimeProvider.System.GetUtcNow();
        return new CloudReport(start.Bootstrap.Cloud!.DeviceId, ThisAssembly.Version, cloud.Version, cloud.Source, status.Health.ToString(),
            status.Reasons.Select(r => r.Code).ToList(), engine.Server.AllocationCount, counters.PacketsToPeers, counters.PacketsFromPeers,
            counters.BytesToPeers, counters.BytesFromPeers, (long)(now - _startedAt).TotalSeconds, cloud.LastOutcome.ToString(), now,
            appliance.Update is { } update ? StatusPage.DescribeUpdate(update) : null);
    }

    public CloudCandidate<RelayConfiguration> Validate(byte[] payload)
    {
        try
        {
            RelayConfiguration next = CloudConfiguration.FromPayload(start.Bootstrap, payload, out CloudOverrides overrides);
            return new CloudCandidate<RelayConfiguration>(next, next.Version, overrides.TrustedKeys, overrides.PollInterval);
        }
        catch (ConfigurationException e)
        {
            throw new CloudDocumentException(e.Message);
        }
    }

    /// <summary>A section that cannot change live is said to wait for the next start; the rest is applied, all or nothing.</summary>
    public void Apply(CloudCandidate<RelayConfiguration> candidate)
    {
        if (candidate.Configuration.Engine != running.Current.Engine)
        {
            CloudServiceLog.NeedsRestart(_logger, "engine", candidate.Version);
        }
        try
        {
            running.Apply(candidate.Configuration, "cloud");
        }
        catch (ListenerBindException e)
        {
            throw new CloudDocumentException(e.Message);
        }
    }
}

internal static partial class CloudServiceLog
{
    [LoggerMessage(EventId = 30, Level = LogLevel.Warning,
        Message = "configuration version {Version} changes the {Section} section: that takes effect at the next start")]
    public static partial void NeedsRestart(ILogger logger, string section, long version);
}
