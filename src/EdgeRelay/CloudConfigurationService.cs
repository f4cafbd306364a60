using System.Net;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Status;
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
/// it accepts to the running relay: the TURN core's options, listeners and stream limits through the
/// engine (existing allocations stay), then LEDs, status page and log level through the appliance.
/// </summary>
internal sealed class CloudConfigurationService(
    CloudStart start, RelayEngine engine, ApplianceService appliance, LogLevelSwitch logLevel, ILoggerFactory loggerFactory)
    : IHostedService, ICloudConfigurationSink<RelayConfiguration>
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("EdgeRelay.Cloud");
    private readonly Lock _applying = new();
    private RelayConfiguration _running = start.Running;
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
        _puller = new CloudPuller<RelayConfiguration>(cloud with { PollInterval = _running.Cloud?.PollInterval ?? cloud.PollInterval },
            this, store, start.Initial, appliance.Model, TimeProvider.System, _logger);
        appliance.AttachCloud(() => _puller.Status);
        // F2: a box that has nothing to relay with (a bootstrap file with no listener) and whose cloud
        // document is refused has no good configuration at all; with one, it is only degraded (D6).
        _puller.Polled += status => appliance.Model.Set(StatusReasons.InvalidConfiguration,
            status.LastOutcome == PollOutcome.Rejected && Volatile.Read(ref _running).Listeners.Count == 0);
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
            counters.BytesToPeers, counters.BytesFromPeers, (long)(now - _startedAt).TotalSeconds, cloud.LastOutcome.ToString(), now);
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

    /// <summary>
    /// The relay first: its change is all-or-nothing (a listener that cannot be bound or a certificate
    /// that cannot be loaded leaves it as it was). Then the appliance, whose parts report their own trouble
    /// and never undo a relay change.
    /// </summary>
    public void Apply(CloudCandidate<RelayConfiguration> candidate)
    {
        lock (_applying)
        {
            RelayConfiguration next = candidate.Configuration;
            if (next.Engine != _running.Engine)
            {
                CloudServiceLog.NeedsRestart(_logger, "engine", candidate.Version);
            }
            IReadOnlyCollection<IPAddress> localAddresses = TurnOptionsFactory.GetLocalAddresses();
            var turnOptions = TurnOptionsFactory.Create(next, localAddresses);
            try
            {
                engine.Reconfigure(turnOptions, TurnOptionsFactory.CreateListeners(next), TurnOptionsFactory.CreateStreamLimits(next));
            }
            catch (ListenerBindException e)
            {
                throw new CloudDocumentException(e.Message);
            }
            // The relay runs the new configuration from here on, whatever the appliance's parts make of it.
            _running = next;
            logLevel.Level = next.LogLevel;
            try
            {
                appliance.Apply(next, new ApplianceInfo("cloud",
                    ApplianceInfo.IceServerUrlsFor(next, turnOptions.AdvertisedRelayAddressIPv4 ?? turnOptions.AdvertisedRelayAddressIPv6!)));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                CloudServiceLog.ApplianceApplyFailed(_logger, candidate.Version, e);
            }
        }
    }
}

internal static partial class CloudServiceLog
{
    [LoggerMessage(EventId = 30, Level = LogLevel.Warning,
        Message = "configuration version {Version} changes the {Section} section: that takes effect at the next start")]
    public static partial void NeedsRestart(ILogger logger, string section, long version);

    [LoggerMessage(EventId = 31, Level = LogLevel.Error,
        Message = "configuration version {Version} is applied to the relay, but the appliance (LEDs, status page) could not follow")]
    public static partial void ApplianceApplyFailed(ILogger logger, long version, Exception exception);
}
