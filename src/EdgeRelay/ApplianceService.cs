using System.Net;
using EdgeRelay.Appliance.Leds;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Appliance.Web;
using EdgeRelay.Configuration;
using EdgeRelay.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeRelay;

/// <summary>
/// The appliance around a running relay: the status model fed by the relay observer, and the status page
/// when <c>status.endpoint</c> is configured. It observes the engine; the relay never waits for it.
/// </summary>
internal sealed class ApplianceService(
    RelayEngine engine, RelayConfiguration configuration, ApplianceInfo info, RecentErrors errors, ILoggerFactory loggerFactory) : IHostedService
{
    private readonly StatusModel _model = new(TimeProvider.System);
    private readonly ILogger _logger = loggerFactory.CreateLogger("EdgeRelay.Appliance");
    private RelayObserver? _observer;
    private StatusPage? _page;
    private ILedDriver? _ledDriver;
    private LedAnimator? _leds;

    public StatusModel Model => _model;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        StartLeds();
        Health previous = _model.Current.Health;
        _model.Changed += status =>
        {
            // Traffic starting and stopping is not news; every other change is.
            bool trafficOnly = (previous is Health.HealthyIdle or Health.Relaying) && (status.Health is Health.HealthyIdle or Health.Relaying);
            previous = status.Health;
            if (!trafficOnly || _logger.IsEnabled(LogLevel.Debug))
            {
                ProgramLog.StatusChanged(_logger, status.Summary, Legend(status.Led));
            }
            _leds?.Show(status.Led);
        };
        bool hasCredential = configuration.Auth.Users.Count > 0 || configuration.Auth.SharedSecrets.Count > 0 || configuration.Auth.AllowAnonymous;
        _model.Set(StatusReasons.NeedsConfiguration, !hasCredential);
        _observer = new RelayObserver(engine, _model, TimeProvider.System);
        _observer.TrafficSeen += () => _leds?.ReportTraffic();
        _observer.Sample();
        _observer.Start();
        // The engine is bound and its loops run before the host starts: the box is ready.
        _model.SetStarting(false);

        if (configuration.Status is { } status)
        {
            var page = new StatusPage(new StatusPageOptions
            {
                Endpoint = status.Endpoint,
                AdminToken = status.AdminToken,
                HostNames = status.HostNames,
                Version = ThisAssembly.Version,
                ConfigurationSource = info.ConfigurationSource,
                IceServerUrls = info.IceServerUrls,
            }, engine, _model, _observer, errors, TimeProvider.System, Identify,
                () => _leds is { IsIdentifying: true } ? new LedSignal(LedMode.Identify) : _model.Current.Led);
            try
            {
                await page.StartAsync(loggerFactory).ConfigureAwait(false);
                _page = page;
                ProgramLog.StatusPageListening(_logger, $"http://{page.LocalEndPoint}/");
            }
            catch (IOException e)
            {
                // The relay matters more than its page: keep relaying, say why the page is missing.
                ProgramLog.StatusPageFailed(_logger, status.Endpoint.ToString(), e.Message);
                await page.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Opens the configured LEDs. LEDs that cannot be opened (no GPIO chip, no such LED directory) are
    /// reported and left dark: the relay matters more than its lights.
    /// </summary>
    private void StartLeds()
    {
        try
        {
            _ledDriver = LedDrivers.Create(configuration.Leds, loggerFactory);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            ProgramLog.LedsFailed(_logger, configuration.Leds.Driver.ToString().ToLowerInvariant(), e.Message);
            return;
        }
        _leds = new LedAnimator(_ledDriver, TimeProvider.System);
        _leds.Show(_model.Current.Led);
    }

    private void Identify()
    {
        ProgramLog.Identify(_logger);
        _leds?.Show(new LedSignal(LedMode.Identify));
    }

    private static string Legend(LedSignal led)
    {
        LedLegendRow row = LedLegend.Rows().First(r => r.Mode == led.Mode);
        return led.Mode == LedMode.Fault ? $"red blinks {led.FaultCode} times, pause, repeated" : row.MultiLed;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _observer?.Dispose();
        _leds?.Dispose();
        _ledDriver?.Dispose();
        if (_page is not null)
        {
            await _page.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>What the composition root knows about this run that the appliance shows.</summary>
internal sealed record ApplianceInfo(string ConfigurationSource, IReadOnlyList<string> IceServerUrls)
{
    /// <summary>The iceServers URLs for this box: every listener, at the advertised address (RFC 7065 syntax).</summary>
    public static IReadOnlyList<string> IceServerUrlsFor(RelayConfiguration configuration, IPAddress advertised)
    {
        string host = advertised.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{advertised}]" : advertised.ToString();
        return configuration.Listeners.Select(l => l.Transport switch
        {
            ListenerTransport.Udp => $"turn:{host}:{l.Endpoint.Port}?transport=udp",
            ListenerTransport.Tcp => $"turn:{host}:{l.Endpoint.Port}?transport=tcp",
            _ => $"turns:{host}:{l.Endpoint.Port}?transport=tcp",
        }).Distinct().ToList();
    }
}
