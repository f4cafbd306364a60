using System.Net;
using System.Runtime.InteropServices;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Web;
using EdgeRelay.Appliance.Systemd;
using EdgeRelay.Appliance.Update;
using EdgeRelay.Configuration;
using EdgeRelay.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace EdgeRelay;

/// <summary><c>edgerelay run [--config FILE]</c>: load and check the configuration, bind, relay until stopped.</summary>
internal static class RunCommand
{
    /// <summary>signal(7): the numbers of SIGUSR1 and SIGUSR2 on x86-64 and arm64 Linux; .NET takes raw numbers as a PosixSignal.</summary>
    private const PosixSignal SigUsr1 = (PosixSignal)10;
    private const PosixSignal SigUsr2 = (PosixSignal)12;

    public static int Run(string? configPath, TextWriter stdout, TextWriter stderr)
    {
        RunningRelease release;
        if (Environment.GetEnvironmentVariable(SlotSelector.SlotVariable) is { } slot)
        {
            // Started by the packaged binary's selector: it chose, and counted this start.
            release = new RunningRelease(slot is "a" or "b" ? slot : null, Environment.GetEnvironmentVariable(SlotSelector.VersionVariable) ?? ThisAssembly.Version);
        }
        else
        {
            release = new RunningRelease(null, ThisAssembly.Version);
            if (configPath is not null && SelectRelease(configPath, stderr) is { } exit)
            {
                return exit;
            }
        }
        return Run(configPath, stdout, stderr, storeCannotStart: null, release);
    }

    /// <summary>
    /// Runs the release that <c>stateDirectory/release/slots.json</c> names, when it names one (README, "Updates"):
    /// this process becomes that binary (execve(2): the same PID, which systemd's Type=notify and watchdog
    /// follow). Null: this binary, the packaged one, runs. A configuration that cannot be read is left for the
    /// normal start to report.
    /// </summary>
    private static int? SelectRelease(string configPath, TextWriter stderr)
    {
        RelayConfiguration bootstrap;
        try
        {
            bootstrap = ConfigurationReader.ReadFile(configPath);
        }
        catch (ConfigurationException)
        {
            return null;
        }
        var store = new SlotStore(bootstrap.StateDirectory);
        SlotChoice choice = SlotSelector.Choose(store, TimeProvider.System, ThisAssembly.Version, bootstrap.Cloud?.ReleaseKeys);
        foreach (string note in choice.Notes)
        {
            stderr.WriteLine($"edgerelay: {note}");
        }
        if (choice.BinaryPath is not { } path)
        {
            return null;
        }
        stderr.WriteLine($"edgerelay: running release {choice.Version} from slot {choice.Slot}{(choice.State.Trial is { } trial ? $" (on trial, start {trial.Attempts} of {SlotSelector.MaxTrialStarts})" : "")}");
        if (choice.State.Trial is { } onTrial && TrialGuardCommand.Start(bootstrap.StateDirectory, onTrial) is { } cannotGuard)
        {
            // The release's own watch and the count of its starts remain; only a release that hangs without a verdict waits for a restart.
            stderr.WriteLine($"edgerelay: cannot start the trial guard: {cannotGuard}");
        }
        stderr.Flush();
        string problem = ProcessImage.Replace(path, ["run", "--config", configPath],
            [(SlotSelector.SlotVariable, choice.Slot!), (SlotSelector.VersionVariable, choice.Version!)]);
        // Only reached when execve failed. The start is counted: exiting lets systemd try again, and the
        // selector rolls back once the trial's starts are used up.
        stderr.WriteLine($"edgerelay: cannot run {path}: {problem}");
        return ExitCodes.Failure;
    }

    /// <param name="storeCannotStart">Why the stored cloud document was tried and cannot start here: start from the bootstrap file.</param>
    private static int Run(string? configPath, TextWriter stdout, TextWriter stderr, string? storeCannotStart, RunningRelease release)
    {
        RelayConfiguration bootstrap;
        string? developmentPassword = null;
        try
        {
            bootstrap = configPath is null
                ? DevelopmentDefaults.Create(out developmentPassword)
                : ConfigurationReader.ReadFile(configPath);
        }
        catch (ConfigurationException e)
        {
            stderr.WriteLine($"edgerelay: configuration error{(configPath is null ? "" : $" in {configPath}")}: {e.Message}");
            return ExitCodes.Configuration;
        }
        // With a cloud section, the box starts at once on the last document it accepted, network or not.
        CloudStart cloudStart = ChooseStartingConfiguration(bootstrap, storeCannotStart, out string? storeProblem);
        RelayConfiguration configuration = cloudStart.Running;

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        // The level can change with an applied configuration: the filter asks the switch each time.
        var logLevel = new LogLevelSwitch(configuration.LogLevel);
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Logging.AddFilter((_, level) => logLevel.IsEnabled(level));
        builder.Services.AddSingleton(logLevel);
        builder.Services.AddSingleton(cloudStart);
        builder.Logging.AddSimpleConsole(options =>
        {
            options.SingleLine = true;
            options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            options.UseUtcTimestamp = true;
        });
        builder.Services.Configure<ConsoleLifetimeOptions>(options => options.SuppressStatusMessages = true);
        // The status page's web host logs every request at Information, and SystemdLifetime (which has no
        // SuppressStatusMessages) says "Application started. Hosting environment: ...": only problems are news.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);

        IReadOnlyCollection<IPAddress> localAddresses = TurnOptionsFactory.GetLocalAddresses();
        var turnOptions = TurnOptionsFactory.Create(configuration, localAddresses);
        var engineHolder = new EngineHolder();
        builder.Services.AddSingleton(sp => engineHolder.Engine!);
        builder.Services.AddHostedService<RelayService>();
        var recentErrors = new RecentErrors(TimeProvider.System);
        builder.Logging.AddProvider(recentErrors);
        builder.Services.AddSingleton(recentErrors);
        builder.Services.AddSingleton(configuration);
        builder.Services.AddSingleton(new ApplianceInfo(cloudStart.Initial.Source == "last-known-good" ? "last-known-good" : configPath ?? "development default",
            ApplianceInfo.IceServerUrlsFor(configuration, turnOptions.AdvertisedRelayAddressIPv4 ?? turnOptions.AdvertisedRelayAddressIPv6!)));
        builder.Services.AddSingleton<ApplianceService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ApplianceService>());
        builder.Services.AddSingleton<RunningConfiguration>();
        builder.Services.AddHostedService<CloudConfigurationService>();
        builder.Services.AddHostedService<SelfCheckService>();
        var restart = new RestartRequest();
        builder.Services.AddSingleton(restart);
        builder.Services.AddSingleton(release);
        builder.Services.AddHostedService<UpdateService>();
        AddSystemd(builder.Services, engineHolder);
        using IHost host = builder.Build();

        ILoggerFactory loggerFactory = host.Services.GetRequiredService<ILoggerFactory>();
        ILogger logger = loggerFactory.CreateLogger("EdgeRelay");
        var engine = new RelayEngine(turnOptions, TimeProvider.System, loggerFactory, TurnOptionsFactory.CreateStreamLimits(configuration),
            configuration.Engine.Backend, configuration.Engine.Loops);
        try
        {
            engine.Start(TurnOptionsFactory.CreateListeners(configuration));
        }
        catch (ListenerBindException e) when (cloudStart.Initial.Source == "last-known-good")
        {
            // An address or a port the stored document names is not to be had here now (a new DHCP lease, a
            // port taken): starting from the bootstrap file lets the cloud send a document that fits, where
            // exiting would make systemd restart into the same failure for good.
            string problem = $"version {cloudStart.Initial.Version} cannot start here: {e.Message}";
            stderr.WriteLine($"edgerelay: the last known good configuration {problem}; starting from the bootstrap file");
            return Run(configPath, stdout, stderr, problem, release);
        }
        catch (ListenerBindException e)
        {
            stderr.WriteLine($"edgerelay: {e.Message}");
            return ExitCodes.Bind;
        }
        engineHolder.Engine = engine;

        if (configuration.Relay.ExternalAddressAuto)
        {
            ProgramLog.AdvertisingUntilSelfCheck(logger, turnOptions.AdvertisedRelayAddressIPv4!.ToString());
        }
        else if (configuration.Relay.ExternalAddress is null && turnOptions.AdvertisedRelayAddressIPv4!.Equals(configuration.Relay.Address) is false)
        {
            ProgramLog.AdvertisingDetectedAddress(logger, turnOptions.AdvertisedRelayAddressIPv4.ToString());
        }
        if (storeProblem is not null)
        {
            ProgramLog.StoreUnusable(logger, storeProblem);
        }
        else if (cloudStart.Initial.Source == "last-known-good")
        {
            ProgramLog.RunningLastKnownGood(logger, cloudStart.Initial.Version);
        }
        if (configuration.Auth.Users.Count == 0 && configuration.Auth.SharedSecrets.Count == 0 && !configuration.Auth.AllowAnonymous)
        {
            if (configuration.Cloud is null)
            {
                ProgramLog.NoCredentials(logger);
            }
            else
            {
                ProgramLog.WaitingForCloud(logger, configuration.Cloud.Url.ToString());
            }
        }
        host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() =>
        {
            // Said once the host has started, so that "relaying" and "Stop with Ctrl+C" are true when
            // they are read: a signal before that would not yet reach the host's orderly shutdown.
            ProgramLog.Started(logger, ThisAssembly.Version,
                string.Join(" and ", new[] { turnOptions.AdvertisedRelayAddressIPv4, turnOptions.AdvertisedRelayAddressIPv6 }.OfType<IPAddress>()));
            if (developmentPassword is not null)
            {
                PrintDevelopmentHelp(stdout, turnOptions.AdvertisedRelayAddressIPv4!, configuration.Listeners[0].Endpoint.Port, developmentPassword);
            }
            // Start-up (configuration, DI, binding) leaves a few megabytes of garbage in a heap that an
            // idle relay would keep committed for good: collect it once and give the pages back. A box
            // with 1 GB of RAM counts every megabyte; nothing on the packet path allocates afterwards.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        });
        // SIGUSR1 drains, SIGUSR2 takes allocations again (`systemctl kill -s USR1 edgerelay`). Their default
        // action ends the process, so they are caught from here on, before READY=1.
        ApplianceService appliance = host.Services.GetRequiredService<ApplianceService>();
        using PosixSignalRegistration drain = PosixSignalRegistration.Create(SigUsr1, signal =>
        {
            signal.Cancel = true;
            appliance.SetDraining(true, "SIGUSR1");
        });
        using PosixSignalRegistration resume = PosixSignalRegistration.Create(SigUsr2, signal =>
        {
            signal.Cancel = true;
            appliance.SetDraining(false, "SIGUSR2");
        });
        try
        {
            host.Run();
        }
        catch (OperationCanceledException)
        {
            // SIGTERM while the host was still starting: stopping then is what was asked.
        }
        if (restart.Reason is { } reason)
        {
            stderr.WriteLine($"edgerelay: exiting with status {ExitCodes.Restart} to be started again: {reason}");
            return ExitCodes.Restart;
        }
        return ExitCodes.Success;
    }

    /// <summary>
    /// The configuration to start with. Without a cloud section, the bootstrap file. With one, the last
    /// document the box accepted (its signature checked again) if the store holds one that is still valid,
    /// else the bootstrap file, and <paramref name="storeProblem"/> says why the store was passed over.
    /// A stored document whose signature holds but that cannot run here (no longer valid, or
    /// <paramref name="storeCannotStart"/>) still sets the trust: its keys stay in force and its version is
    /// the floor, so that passing it over can neither undo a key rotation nor let an older document back in.
    /// </summary>
    private static CloudStart ChooseStartingConfiguration(RelayConfiguration bootstrap, string? storeCannotStart, out string? storeProblem)
    {
        storeProblem = null;
        var fromBootstrap = new CloudStart(bootstrap, bootstrap,
            new AppliedConfiguration("bootstrap", bootstrap.Version, null, null, bootstrap.Cloud?.TrustedKeys ?? [], null));
        if (bootstrap.Cloud is null)
        {
            return fromBootstrap;
        }
        StoreLoadResult stored = new LastKnownGoodStore(bootstrap.StateDirectory).Load();
        if (stored.Document is not { } document)
        {
            // Nothing stored, or a damaged store: its keys cannot be trusted, the bootstrap's are.
            storeProblem = stored.Problem;
            return fromBootstrap;
        }
        IReadOnlyList<TrustedKey> verifiedWith = document.VerifiedWith.Select(TrustedKey.Parse).ToList();
        CloudStart FromBootstrapAbove(long version, IReadOnlyList<TrustedKey> keys) =>
            new(bootstrap, bootstrap, new AppliedConfiguration("bootstrap", version, null, null, keys, null));
        RelayConfiguration running;
        CloudOverrides overrides;
        try
        {
            running = CloudConfiguration.FromPayload(bootstrap, stored.Payload, out overrides);
        }
        catch (ConfigurationException e)
        {
            // A binary update may have tightened a rule: the stored document is no longer valid.
            storeProblem = $"the stored configuration is not valid: {e.Message}";
            return FromBootstrapAbove(document.Version, verifiedWith);
        }
        if (running.Version < bootstrap.Version)
        {
            // The operator gave the box a newer bootstrap file: it decides, keys included.
            storeProblem = $"the stored version {running.Version} is older than the bootstrap file's version {bootstrap.Version}";
            return fromBootstrap;
        }
        // The keys in force are the ones the document rotated to, or the ones that verified it.
        IReadOnlyList<TrustedKey> keys = overrides.TrustedKeys ?? verifiedWith;
        if (storeCannotStart is not null)
        {
            storeProblem = $"the stored configuration {storeCannotStart}";
            return FromBootstrapAbove(running.Version, keys);
        }
        return new CloudStart(bootstrap, running,
            new AppliedConfiguration("last-known-good", running.Version, document.Document, document.ETag, keys, stored.SignedBy));
    }

    /// <summary>
    /// systemd integration (image/systemd/edgerelay.service, Type=notify): READY=1 once the host has
    /// started (the engine is bound before that, so READY means the ports are open), STOPPING=1 on SIGTERM,
    /// the journal's log format, and the watchdog with STATUS=. Outside systemd all of it stays off.
    /// </summary>
    private static void AddSystemd(IServiceCollection services, EngineHolder engineHolder)
    {
        // When our parent is systemd, AddSystemd switches the console logger to the journald format
        // (a "<6>" priority prefix per line, no timestamp or colours: the journal adds its own) and the
        // host lifetime to SystemdLifetime, which sends READY=1 and STOPPING=1 (sd_notify(3)) and stops on SIGTERM.
        services.AddSystemd();
        // AddSystemd goes by the parent process only; sd_notify(3) goes by $NOTIFY_SOCKET. A service manager
        // that is not our parent (a supervisor, a container's init, the process tests) still hears READY and
        // STOPPING; the log format stays ours, since its output may not go to the journal.
        if (!SystemdHelpers.IsSystemdService() && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET")))
        {
            services.AddSingleton<IHostLifetime, SystemdLifetime>();
        }
        // The watchdog's notifier; without $NOTIFY_SOCKET it is disabled and the watchdog does nothing.
        services.TryAddSingleton<ISystemdNotifier, SystemdNotifier>();
        // Registered after RelayService, so it is stopped before the engine is disposed (hosted services stop in reverse).
        services.AddHostedService(sp => new SystemdWatchdog(
            sp.GetRequiredService<ISystemdNotifier>(),
            new RelayEngineProgress(engineHolder.Engine!),
            SystemdWatchdog.ReadInterval(Environment.GetEnvironmentVariable, Environment.ProcessId),
            TimeProvider.System,
            sp.GetRequiredService<ILogger<SystemdWatchdog>>()));
    }

    private static void PrintDevelopmentHelp(TextWriter stdout, IPAddress advertised, int port, string password)
    {
        string host = advertised.ToString();
        stdout.WriteLine($"""

            EdgeRelay development relay: TURN on udp/{port}, relaying from {host}.
            This is a development default: for production, run `edgerelay run --config FILE` (see README).

            Point a WebRTC app at it:
              iceServers: [{"{"} urls: "turn:{host}:{port}?transport=udp", username: "{DevelopmentDefaults.Username}", credential: "{password}" {"}"}]

            Or test it with coturn's client (two clients relaying to each other through it):
              turnutils_uclient -y -u {DevelopmentDefaults.Username} -w '{password}' -p {port} {host}
            Stop with Ctrl+C.

            """);
        stdout.Flush();
    }

    /// <summary>The engine exists only after binding succeeded, which happens after the host is built.</summary>
    private sealed class EngineHolder
    {
        public RelayEngine? Engine { get; set; }
    }
}
