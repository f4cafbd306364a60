using System.Net;
using EdgeRelay.Appliance.Clock;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Appliance.Leds;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Appliance.Update;
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
    RelayEngine engine, RelayConfiguration initialConfiguration, ApplianceInfo initialInfo, RecentErrors errors, ILoggerFactory loggerFactory) : IHostedService
{
    private readonly StatusModel _model = new(TimeProvider.System);
    private readonly ILogger _logger = loggerFactory.CreateLogger("EdgeRelay.Appliance");
    private readonly SemaphoreSlim _changing = new(1, 1);
    private readonly Lock _draining = new();
    private RelayConfiguration _configuration = initialConfiguration;
    private ApplianceInfo _info = initialInfo;
    private Func<CloudStatus>? _cloud;
    private Func<SelfCheckRunner?>? _selfCheck;
    private Func<UpdateStatus>? _update;
    private RelayObserver? _observer;
    private StatusPage? _page;
    private ILedDriver? _ledDriver;
    private LedAnimator? _leds;
    private readonly Lock _clockGate = new();
    private ClockMonitor? _clock;

    public StatusModel Model => _model;

    /// <summary>Whether the clock can be trusted, and the best time there is (the cloud puller feeds it the Date header).</summary>
    public ClockMonitor Clock
    {
        get
        {
            lock (_clockGate)
            {
                return _clock ??= CreateClock(engine, _model, _configuration, loggerFactory);
            }
        }
    }

    private static ClockMonitor CreateClock(RelayEngine relay, StatusModel model, RelayConfiguration configuration, ILoggerFactory loggers)
    {
        var clock = new ClockMonitor(new KernelClockSource(), model, TimeProvider.System, loggers.CreateLogger("EdgeRelay.Clock"))
        {
            RequireSynchronisation = configuration.Time.RequireSynchronisation,
        };
        // TURN REST expiry is judged by the best time there is; the core never learns where it comes from.
        relay.Server.WallClock = clock;
        return clock;
    }

    /// <summary>
    /// Drains (or stops draining): new allocations go to the alternate servers with 300 Try Alternate, or are
    /// refused, while every allocation that exists goes on (RFC 8656 §7.2). Not kept across a restart: a box
    /// that starts takes allocations. From SIGUSR1/SIGUSR2 or the status page.
    /// </summary>
    public void SetDraining(bool draining, string by)
    {
        lock (_draining)
        {
            if (engine.Server.Draining == draining)
            {
                return;
            }
            engine.Server.Draining = draining;
        }
        _model.Set(StatusReasons.Draining, draining);
        if (draining)
        {
            ProgramLog.Draining(_logger, by, engine.Server.Options.AlternateServers.Count == 0
                ? "refused with 508 (no alternateServers configured)"
                : $"sent to {string.Join(", ", engine.Server.Options.AlternateServers)} with 300 Try Alternate");
        }
        else
        {
            ProgramLog.Resumed(_logger, by);
        }
    }

    /// <summary>The page shows the cloud puller's state from now on.</summary>
    public void AttachCloud(Func<CloudStatus> cloud)
    {
        _cloud = cloud;
        _page?.Update(PageOptions(_configuration.Status!));
    }

    /// <summary>The cloud puller's state; null when the box has no cloud section.</summary>
    public CloudStatus? Cloud => _cloud?.Invoke();

    /// <summary>The page, /metrics and the cloud report show where the software stands from now on.</summary>
    public void AttachUpdate(Func<UpdateStatus> update)
    {
        _update = update;
        if (_configuration.Status is { } status)
        {
            _page?.Update(PageOptions(status));
        }
    }

    /// <summary>Where the software stands; null when the box takes no updates.</summary>
    public UpdateStatus? Update => _update?.Invoke();

    /// <summary>The page shows the running self-check's last result from now on, and can ask it for one at once.</summary>
    public void AttachSelfCheck(Func<SelfCheckRunner?> selfCheck)
    {
        _selfCheck = selfCheck;
        if (_configuration.Status is { } status)
        {
            _page?.Update(PageOptions(status));
        }
    }

    /// <summary>
    /// Takes an applied configuration: LEDs and the status page change when their sections did, the page
    /// shows the new version and iceServers. A part that cannot follow reports it and stays off, as at start.
    /// </summary>
    public void Apply(RelayConfiguration configuration, ApplianceInfo info)
    {
        _changing.Wait();
        try
        {
            RelayConfiguration previous = _configuration;
            _configuration = configuration;
            _info = info;
            if (configuration.Leds != previous.Leds)
            {
                StopLeds();
                StartLeds();
            }
            UpdateNeedsConfiguration();
            Clock.RequireSynchronisation = configuration.Time.RequireSynchronisation;
            WriteTimesyncdConfiguration();
            if (configuration.Status?.Endpoint is { } endpoint && _page is not null && endpoint.Equals(previous.Status?.Endpoint))
            {
                _page.Update(PageOptions(configuration.Status));
            }
            else if (configuration.Status != previous.Status)
            {
                // A new endpoint (or none): the page moves. Its start is short and never blocks the relay.
                StopPageAsync().GetAwaiter().GetResult();
                StartPageAsync().GetAwaiter().GetResult();
            }
        }
        finally
        {
            _changing.Release();
        }
    }

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
        UpdateNeedsConfiguration();
        WriteTimesyncdConfiguration();
        Clock.Start();
        _observer = new RelayObserver(engine, _model, TimeProvider.System, () => AwaitingConfiguration, Clock);
        _observer.TrafficSeen += () => _leds?.ReportTraffic();
        _observer.Sample();
        _observer.Start();
        // The engine is bound and its loops run before the host starts: the box is ready, unless it still
        // waits for its first configuration from the cloud (amber blinking, the reasons say why it takes long).
        _model.SetStarting(AwaitingConfiguration);

        await StartPageAsync().ConfigureAwait(false);
    }

    /// <summary>A box provisioned with only a cloud section has no listener until its first document is applied.</summary>
    private bool AwaitingConfiguration => _configuration.Listeners.Count == 0 && _configuration.Cloud is not null;

    /// <summary>D5 while nobody could authenticate and no cloud is there to bring credentials.</summary>
    private void UpdateNeedsConfiguration()
    {
        RelayConfiguration configuration = _configuration;
        bool hasCredential = configuration.Auth.Users.Count > 0 || configuration.Auth.SharedSecrets.Count > 0 || configuration.Auth.AllowAnonymous;
        _model.Set(StatusReasons.NeedsConfiguration, !hasCredential);
    }

    /// <summary>time.ntpServers for systemd-timesyncd, through the root-side path unit (TimesyncdConfiguration says how).</summary>
    private void WriteTimesyncdConfiguration()
    {
        RelayConfiguration configuration = _configuration;
        try
        {
            if (TimesyncdConfiguration.Apply(configuration.StateDirectory, configuration.Time.NtpServers))
            {
                ProgramLog.NtpServersHandedOver(_logger, configuration.Time.NtpServers.Count == 0 ? "the distribution's" : string.Join(" ", configuration.Time.NtpServers),
                    Path.Combine(configuration.StateDirectory, TimesyncdConfiguration.FileName));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ProgramLog.NtpServersFailed(_logger, Path.Combine(configuration.StateDirectory, TimesyncdConfiguration.FileName), e.Message);
        }
    }

    private StatusPageOptions PageOptions(StatusSection status) => new()
    {
        Endpoint = status.Endpoint,
        AdminToken = status.AdminToken,
        HostNames = status.HostNames,
        Version = ThisAssembly.Version,
        ConfigurationSource = _info.ConfigurationSource,
        ConfigurationVersion = _configuration.Version,
        Cloud = _cloud,
        SelfCheck = _selfCheck,
        LedOutputs = () => _ledDriver?.Roles ?? [],
        SetDraining = draining => SetDraining(draining, "the status page"),
        IceServerUrls = _info.IceServerUrls,
        Clock = () => Clock.Status,
        Update = _update,
    };

    private async Task StartPageAsync()
    {
        if (_configuration.Status is not { } status)
        {
            return;
        }
        var page = new StatusPage(PageOptions(status), engine, _model, _observer!, errors, TimeProvider.System, Identify,
            () => _leds is { IsIdentifying: true } ? new LedSignal(LedMode.Identify) : _model.Current.Led);
        try
        {
            await page.StartAsync(loggerFactory).ConfigureAwait(false);
            _page = page;
            ProgramLog.StatusPageListening(_logger, $"http://{page.LocalEndPoint}/");
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            // The relay matters more than its page: keep relaying, say why the page is missing. (An address
            // this host does not have comes as a SocketException, a port in use as an IOException.)
            ProgramLog.StatusPageFailed(_logger, status.Endpoint.ToString(), e.Message);
            await page.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task StopPageAsync()
    {
        if (_page is not null)
        {
            await _page.DisposeAsync().ConfigureAwait(false);
            _page = null;
        }
    }

    /// <summary>
    /// Opens the configured LEDs. LEDs that cannot be opened (no GPIO chip, no such LED directory) are
    /// reported and left dark: the relay matters more than its lights.
    /// </summary>
    private void StartLeds()
    {
        LedOptions options = _configuration.Leds;
        try
        {
            _ledDriver = LedDrivers.Create(options, loggerFactory);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            ProgramLog.LedsFailed(_logger, options.Driver.ToString().ToLowerInvariant(), e.Message);
            return;
        }
        _leds = new LedAnimator(_ledDriver, TimeProvider.System);
        _leds.Show(_model.Current.Led);
    }

    private void StopLeds()
    {
        LedAnimator? leds = _leds;
        _leds = null;
        leds?.Dispose();
        _ledDriver?.Dispose();
        _ledDriver = null;
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
        await _changing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _observer?.Dispose();
            _clock?.Dispose();
            StopLeds();
            await StopPageAsync().ConfigureAwait(false);
        }
        finally
        {
            _changing.Release();
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
