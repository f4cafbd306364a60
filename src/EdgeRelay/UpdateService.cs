using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Appliance.Update;
using EdgeRelay.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeRelay;

/// <summary>Set when the process is to end so that systemd starts it again (exit status <see cref="ExitCodes.Restart"/>), and why.</summary>
internal sealed class RestartRequest
{
    private string? _reason;

    public string? Reason => Volatile.Read(ref _reason);

    public void Set(string reason) => Interlocked.CompareExchange(ref _reason, reason, null);
}

/// <summary>
/// Software updates from the cloud (README, "Updates"): runs the <see cref="ReleaseUpdater"/> on the
/// configuration's <c>update</c> section, and is its host: the window, the drain, the restart, the health of
/// a release on trial (listeners bound and a self-probe of a relay through this box), and whether a
/// downloaded binary runs here at all.
/// </summary>
internal sealed class UpdateService(
    CloudStart start, RunningRelease release, RelayEngine engine, ApplianceService appliance, RunningConfiguration running,
    RestartRequest restart, IHostApplicationLifetime lifetime, ILoggerFactory loggerFactory) : IHostedService, IUpdateHost
{
    /// <summary>A --version that takes longer than this does not run well enough to be switched to.</summary>
    private static readonly TimeSpan TryRunLimit = TimeSpan.FromSeconds(20);

    private readonly ILogger _logger = loggerFactory.CreateLogger("EdgeRelay.Update");
    private ReleaseUpdater? _updater;
    private HttpClient? _http;
    private int _drainingForUpdate;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (start.Bootstrap.Cloud is not { } cloud)
        {
            return Task.CompletedTask;
        }
        _http = new HttpClient(CloudHttp.CreateHandler(cloud), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("edgerelay", ThisAssembly.Version));
        _updater = new ReleaseUpdater(new SlotStore(start.Bootstrap.StateDirectory), release, ThisRid, _http, request => Authorize(cloud, request),
            () => running.Current.Cloud?.ReleaseKeys ?? running.Current.Cloud?.TrustedKeys ?? cloud.TrustedKeys,
            this, appliance.Model, TimeProvider.System, _logger);
        appliance.AttachUpdate(() => _updater.Status);
        _updater.StartTrialWatch();
        // Subscribed first: a configuration applied in between is then not missed (the same target twice changes nothing).
        running.Applied += configuration => _updater.SetTarget(configuration.Update);
        _updater.SetTarget(running.Current.Update);
        if (cloud.ReleaseKeys is null && running.Current.Update is not null)
        {
            ProgramLog.NoReleaseKeys(_logger);
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_updater is not null)
        {
            await _updater.DisposeAsync().ConfigureAwait(false);
        }
        _http?.Dispose();
    }

    /// <summary>The RID of this process, as a manifest names it.</summary>
    private static string ThisRid => RuntimeInformation.OSArchitecture switch
    {
        Architecture.Arm64 => "linux-arm64",
        Architecture.X64 => "linux-x64",
        var other => "linux-" + other.ToString().ToLowerInvariant(),
    };

    /// <summary>The device token goes to the cloud's own origin only, as with the configuration.</summary>
    private static void Authorize(CloudOptions cloud, HttpRequestMessage request)
    {
        if (cloud.DeviceToken is { } token && request.RequestUri is { } url
            && Uri.Compare(url, cloud.Url, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public async Task PrepareToSwitchAsync(UpdateTarget target, Action<UpdatePhase> phase, CancellationToken cancellationToken)
    {
        if (target.Window is { } window)
        {
            while (window.Until(TimeProvider.System.GetUtcNow()) is { } wait && wait > TimeSpan.Zero)
            {
                phase(UpdatePhase.WaitingForWindow);
                // In steps: a clock that NTP puts right moves the window.
                await Task.Delay(wait < TimeSpan.FromMinutes(1) ? wait : TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
            }
        }
        if (target.DrainTimeout <= TimeSpan.Zero || engine.Server.AllocationCount == 0)
        {
            return;
        }
        phase(UpdatePhase.Draining);
        // With alternates, new allocations go there (300) while the calls end. Without, a drain could only refuse every new
        // call (508) for up to drainSeconds: the switch waits for a quiet moment instead, taking calls as they come.
        if (!engine.Server.Draining && engine.Server.Options.AlternateServers.Count > 0)
        {
            Volatile.Write(ref _drainingForUpdate, 1);
            appliance.SetDraining(true, "the update to " + target.Version);
        }
        long started = Stopwatch.GetTimestamp();
        // Calls in progress go on (RFC 8656 §7.2: their allocations stay); the switch waits for them or the time limit.
        while (engine.Server.AllocationCount > 0 && Stopwatch.GetElapsedTime(started) < target.DrainTimeout)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
    }

    public void CancelDrain()
    {
        if (Interlocked.Exchange(ref _drainingForUpdate, 0) == 1)
        {
            appliance.SetDraining(false, "the update, which is called off");
        }
    }

    public void Restart(string reason)
    {
        restart.Set(reason);
        lifetime.StopApplication();
    }

    /// <summary>
    /// Healthy (the updater adds: no fault of its own, no configuration refused): this release has reached the cloud
    /// (a release that cannot fetch its configuration could never be updated again), and a TURN client of this box's own
    /// makes two allocations on the first UDP (else TCP, else TLS) listener and relays an echo between them
    /// (<see cref="TurnProbe"/>). What cannot be probed is not proved: a release is committed on evidence only.
    /// </summary>
    public async Task<string?> CheckHealthAsync(IReadOnlyCollection<string> excused, CancellationToken cancellationToken)
    {
        // An answer from the cloud, a refusal (D6) included; excused when the cloud was out of reach before the switch as well.
        if (appliance.Cloud is { LastContact: null } cloud && cloud.LastOutcome != PollOutcome.Rejected
            && !excused.Contains(StatusReasons.CloudUnreachable.Code))
        {
            return $"this release has not reached the cloud yet ({cloud.LastProblem ?? "no answer yet"})";
        }
        if (ProbeCredential() is not { } login)
        {
            return "the relay cannot be probed: " + CannotProve();
        }
        (IPEndPoint? endpoint, string scheme, string transport) = engine.LocalEndPoints.FirstOrDefault() is { } udp ? (udp, "turn", "udp")
            : engine.StreamEndPoints.FirstOrDefault(s => s.Protocol == Turn.TransportProtocol.Tcp) is { EndPoint: { } tcp } ? (tcp, "turn", "tcp")
            : engine.StreamEndPoints.FirstOrDefault(s => s.Protocol == Turn.TransportProtocol.Tls) is { EndPoint: { } tls } ? (tls, "turns", "tcp")
            : (null, "", "");
        if (endpoint is null)
        {
            return "the relay cannot be probed: no listener is bound";
        }
        IPAddress address = endpoint.Address.Equals(IPAddress.Any) ? IPAddress.Loopback
            : endpoint.Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : endpoint.Address;
        var target = new IPEndPoint(address, endpoint.Port);
        if (!TurnUrl.TryParse(string.Create(CultureInfo.InvariantCulture, $"{scheme}:{target}?transport={transport}"), out TurnUrl? url, out string error))
        {
            return error;
        }
        TurnProbeReport report = await TurnProbe.RunAsync(new TurnProbeOptions
        {
            Server = url!,
            ResolvedEndPoint = target,
            Username = login.Username,
            Password = login.Password,
            Count = 5,
            Timeout = TimeSpan.FromSeconds(3),
            // Its own listener, by address: the certificate names the box's public name, and what is probed is the relay, not TLS trust.
            InsecureSkipCertificateCheck = scheme == "turns",
        }, cancellationToken).ConfigureAwait(false);
        return report.Passed ? null : $"the self-probe of the relay failed: {report.Verdict}";
    }

    public string? CannotProve() => running.Current.Auth is { SharedSecrets.Count: 0, Users.Count: 0 }
        ? "the configuration has no credential to probe the relay with (auth.users or auth.sharedSecrets)"
        : null;

    /// <summary>A child process is not the service: it must not speak to systemd (sd_notify(3)) in the relay's name.</summary>
    internal static void NotTheService(ProcessStartInfo info)
    {
        foreach (string name in (string[])["NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC"])
        {
            info.Environment.Remove(name);
        }
    }

    /// <summary>A login for the self-probe: a TURN REST credential from the first shared secret, else the first user.</summary>
    private (string Username, string Password)? ProbeCredential()
    {
        var auth = running.Current.Auth;
        return auth.SharedSecrets.Count > 0
            ? TurnRestCredential.Create(auth.SharedSecrets[0], "edgerelay-update-probe", TimeProvider.System.GetUtcNow(), TimeSpan.FromMinutes(10))
            : auth.Users.Count > 0 ? (auth.Users.First().Key, auth.Users.First().Value)
            : null;
    }

    public async Task<string?> TryRunAsync(string path, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(path, "--version") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        NotTheService(info);
        try
        {
            using Process process = Process.Start(info) ?? throw new InvalidOperationException("it did not start");
            Task<string> output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            Task<string> errors = process.StandardError.ReadToEndAsync(cancellationToken);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TryRunLimit);
            try
            {
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                // A busy box, not necessarily a bad binary: thrown, so that the updater tries again later rather than refuse.
                throw new TimeoutException($"`--version` of {path} did not answer within {TryRunLimit.TotalSeconds:0} s");
            }
            string text = (await output.ConfigureAwait(false)).Trim();
            string stderr = (await errors.ConfigureAwait(false)).Trim();
            return process.ExitCode == 0 && text.StartsWith("edgerelay ", StringComparison.Ordinal)
                ? null
                : $"`--version` exited with {process.ExitCode} and said \"{Truncate(text + stderr)}\"";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            // ENOEXEC, EACCES: another architecture's binary, or not a binary at all.
            return e.Message;
        }
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
