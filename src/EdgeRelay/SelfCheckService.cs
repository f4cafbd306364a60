using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeRelay;

/// <summary>
/// Runs the <see cref="SelfCheckRunner"/> while the configuration names <c>selfCheck.stunServers</c>, and
/// starts it anew when an applied configuration changes what it checks (its section, or the relay's). With
/// <c>relay.externalAddress: "auto"</c> a public address it vouches for is handed to <see cref="RunningConfiguration"/>.
/// </summary>
internal sealed class SelfCheckService(RunningConfiguration running, ApplianceService appliance, ILoggerFactory loggerFactory) : IHostedService
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("EdgeRelay.SelfCheck");
    private readonly SemaphoreSlim _changing = new(1, 1);
    private readonly Lock _applyingGate = new();

    /// <summary>
    /// Detected addresses are applied one after another on the thread pool, never on the thread of a check:
    /// a check the status page asked for must not wait for the relay's configuration lock, which a cloud
    /// apply that moves the page may hold while it waits for that very request.
    /// </summary>
    private Task _applying = Task.CompletedTask;
    private SelfCheckRunner? _runner;
    private (SelfCheckSection, RelaySection)? _checking;
    private bool _stopped;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        appliance.AttachSelfCheck(() => Volatile.Read(ref _runner));
        running.Applied += applied => _ = FollowAsync();
        return FollowAsync();
    }

    /// <summary>Starts, restarts or stops the runner after the running configuration; never throws.</summary>
    private async Task FollowAsync()
    {
        await _changing.WaitAsync().ConfigureAwait(false);
        try
        {
            RelayConfiguration configuration = running.Current;
            (SelfCheckSection, RelaySection)? wanted = configuration.SelfCheck.Enabled ? (configuration.SelfCheck, configuration.Relay) : null;
            if (_stopped || Nullable.Equals(wanted, _checking))
            {
                return;
            }
            if (_runner is { } previous)
            {
                Volatile.Write(ref _runner, null);
                // A runner that follows takes over D7-D9 with its first check; none that follows clears them.
                await previous.StopAsync(clearReasons: wanted is null).ConfigureAwait(false);
            }
            _checking = wanted;
            if (wanted is not { } checking)
            {
                return;
            }
            var runner = new SelfCheckRunner(Options(configuration), appliance.Model, TimeProvider.System, _logger);
            RelaySection measuredFor = checking.Item2;
            runner.Checked += result =>
            {
                if (result.DetectedExternalAddress is { } address)
                {
                    lock (_applyingGate)
                    {
                        _applying = _applying.ContinueWith(_ => running.UseDetectedExternalAddress(address, measuredFor),
                            CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                    }
                }
            };
            Volatile.Write(ref _runner, runner);
            runner.Start();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            ProgramLog.SelfCheckFollowFailed(_logger, e);
        }
        finally
        {
            _changing.Release();
        }
    }

    private static SelfCheckOptions Options(RelayConfiguration configuration)
    {
        RelaySection relay = configuration.Relay;
        return new SelfCheckOptions
        {
            Servers = configuration.SelfCheck.StunServers,
            Interval = TimeSpan.FromSeconds(configuration.SelfCheck.IntervalSeconds),
            Timeout = TimeSpan.FromSeconds(configuration.SelfCheck.TimeoutSeconds),
            LocalAddress = relay.Address,
            RelayPortMin = relay.PortMin,
            RelayPortMax = relay.PortMax,
            ExternalAddress = relay.ExternalAddressAuto ? ExternalAddressMode.Auto
                : relay.ExternalAddress is null ? ExternalAddressMode.NotSet
                : ExternalAddressMode.Configured,
            // Without "auto", what the relay advertises follows from the configuration alone.
            Advertised = TurnOptionsFactory.AdvertisedAddress(relay with { ExternalAddressAuto = false }, TurnOptionsFactory.GetLocalAddresses()),
        };
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _changing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _stopped = true;
            if (_runner is not null)
            {
                await _runner.DisposeAsync().ConfigureAwait(false);
            }
            Task applying;
            lock (_applyingGate)
            {
                applying = _applying;
            }
            await applying.ConfigureAwait(false);
        }
        finally
        {
            _changing.Release();
        }
    }
}
