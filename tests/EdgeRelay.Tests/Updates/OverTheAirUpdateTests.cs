using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Update;
using EdgeRelay.Tests.Shared;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Updates;

/// <summary>
/// Over-the-air updates end to end: the shipped binary, started as systemd would (<see cref="ServiceSupervisor"/>),
/// takes its configuration and its releases from a real nginx over TLS. A release here is the same binary under
/// a signed manifest of a higher version (the version the box runs as is its slot's manifest's), or a script
/// that answers --version and fails to start.
/// </summary>
[Collection("cloud")]
public sealed class OverTheAirUpdateTests : IAsyncLifetime, IDisposable
{
    private const string DocumentPath = "boxes/venue-7.jws";
    private const string Token = "device-token-update-0123456789";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-ota-").FullName;
    private readonly ECDsa _configurationKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _releaseKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly int _port = Ports.FreeUdpPort();
    private readonly int _statusPort = Ports.FreeUdpPort();
    private readonly (int First, int Last) _relayPorts = Ports.RelayRange();
    private NginxServer _cloud = null!;
    private long _documentVersion;

    /// <summary>15 MB at 12 MB/s: a download takes about a second and a quarter, long enough to be cut in the middle.</summary>
    private const int ReleaseBytesPerSecond = 12 * 1024 * 1024;

    public async Task InitializeAsync() =>
        _cloud = await NginxServer.StartAsync(new NginxServerOptions { DeviceToken = Token, ReleaseBytesPerSecond = ReleaseBytesPerSecond });

    public async Task DisposeAsync() => await _cloud.DisposeAsync();

    public void Dispose()
    {
        _configurationKey.Dispose();
        _releaseKey.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private string StateDirectory => Path.Combine(_directory, "state");

    private string WriteBootstrap()
    {
        string path = Path.Combine(_directory, "bootstrap.json");
        File.WriteAllText(path, $$"""
            {
              "stateDirectory": "{{StateDirectory}}",
              "cloud": {
                "url": "{{_cloud.UrlOf(DocumentPath)}}",
                "trustedKeys": ["{{TrustedKey.FromSigningKey(_configurationKey)}}"],
                "releaseKeys": ["{{TrustedKey.FromSigningKey(_releaseKey)}}"],
                "deviceToken": "{{Token}}",
                "caCertificate": "{{_cloud.CaCertificatePath}}",
                "pollIntervalSeconds": 1,
                "timeoutSeconds": 5,
                "maxBackoffSeconds": 2
              }
            }
            """);
        return path;
    }

    /// <summary>A cloud document naming <paramref name="update"/> (the update section's JSON), or none.</summary>
    private void PublishDocument(string? update, string more = "")
    {
        long version = ++_documentVersion;
        string json = $$"""
            {
              "version": {{version}},
              "realm": "{{RunningRelay.Realm}}",
              "listeners": [{ "transport": "udp", "endpoint": "127.0.0.1:{{_port}}" }],
              "relay": { "address": "127.0.0.1", "portRange": "{{_relayPorts.First}}-{{_relayPorts.Last}}" },
              "auth": { "users": { "{{RunningRelay.User}}": "{{RunningRelay.Password}}" } },
              "peers": { "allowLoopback": true },
              "status": { "endpoint": "127.0.0.1:{{_statusPort}}" },
              "time": { "requireSynchronisation": false }
              {{more}}
              {{(update is null ? "" : ", \"update\": " + update)}}
            }
            """;
        _cloud.WriteDocument(DocumentPath, SignedDocument.Sign(Encoding.UTF8.GetBytes(json), _configurationKey));
    }

    /// <summary>Puts a release on the cloud: the binary and its manifest, signed by <paramref name="key"/> (the release key by default).</summary>
    private string PublishRelease(string version, byte[] binary, ECDsa? key = null, string? sha256 = null, int drainSeconds = 0, int healthTimeoutSeconds = 30,
        int? soakSeconds = null)
    {
        string name = $"edgerelay-{version}-linux-x64";
        string binaryPath = _cloud.WriteDocument($"releases/{name}", binary);
        ReleaseManifest manifest = ReleaseManifest.ForBinary(binaryPath, version, "linux-x64", name);
        if (sha256 is not null)
        {
            manifest = manifest with { Sha256 = sha256 };
        }
        _cloud.WriteDocument($"releases/{name}.jws", manifest.Sign(key ?? _releaseKey));
        return $$"""{ "version": "{{version}}", "manifestUrl": "{{_cloud.UrlOf($"releases/{name}.jws")}}", "drainSeconds": {{drainSeconds}}, "healthTimeoutSeconds": {{healthTimeoutSeconds}}{{(soakSeconds is { } soak ? $", \"soakSeconds\": {soak}" : "")}} }""";
    }

    private static byte[] GoodBinary => File.ReadAllBytes(AotBinary.Path);

    /// <summary>Answers --version like a release, and cannot start: exit 1 at once.</summary>
    private static byte[] CrashingBinary(string version) =>
        Encoding.UTF8.GetBytes($"#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'edgerelay {version}'; exit 0; fi\necho 'this release cannot start' >&2\nexit 1\n");

    /// <summary>Answers --version like a release, starts, and then gives no sign of life: no READY, no verdict on its trial.</summary>
    private static byte[] HangingBinary(string version) =>
        Encoding.UTF8.GetBytes($"#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'edgerelay {version}'; exit 0; fi\necho 'this release hangs'\nexec sleep 600\n");

    private async Task<JsonElement?> TryStatusAsync()
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            return await http.GetFromJsonAsync<JsonElement>($"http://127.0.0.1:{_statusPort}/api/status");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Polls /api/status (bounded) until <paramref name="condition"/> holds of its update object.</summary>
    private Task<JsonElement> WaitForUpdateAsync(Func<JsonElement, bool> condition, ServiceSupervisor service, TimeSpan? wait = null) =>
        WaitForStatusAsync(s => s.TryGetProperty("update", out JsonElement update) && update.ValueKind == JsonValueKind.Object && condition(update), service, wait);

    private async Task<JsonElement> WaitForStatusAsync(Func<JsonElement, bool> condition, ServiceSupervisor service, TimeSpan? wait = null)
    {
        var waited = Stopwatch.StartNew();
        JsonElement? last = null;
        while (waited.Elapsed < (wait ?? Wait))
        {
            last = await TryStatusAsync();
            if (last is { } status && condition(status))
            {
                return status;
            }
            await Task.Delay(100);
        }
        Assert.Fail($"the status never became as expected; last: {last}\nservice:\n{service.Output}\nnginx:\n{_cloud.ErrorLog}");
        return default;
    }

    private static string? Text(JsonElement update, string name) =>
        update.GetProperty(name).ValueKind == JsonValueKind.String ? update.GetProperty(name).GetString() : null;

    private SlotState Slots() => new SlotStore(StateDirectory).Load(out _);

    private void AssertRelays()
    {
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            (int exit, string output) = Coturn.UClient("-u", RunningRelay.User, "-w", RunningRelay.Password, "-e", "127.0.0.1",
                "-r", peerPort.ToString(CultureInfo.InvariantCulture), "-n", "20", "-m", "1", "-l", "180", "-z", "10",
                "-p", _port.ToString(CultureInfo.InvariantCulture), "127.0.0.1");
            Coturn.AssertRelayedEverything(exit, output, 20);
        }
    }

    [Fact]
    public async Task A_good_release_is_installed_proved_and_committed_and_a_crashing_one_is_rolled_back_and_not_retried()
    {
        PublishDocument(PublishRelease("9.1.0", GoodBinary));
        using var service = new ServiceSupervisor(AotBinary.Path, "run", "--config", WriteBootstrap());

        // Downloaded, checked, switched (status 75), started from slot a, proved healthy by its self-probe, committed.
        JsonElement status = await WaitForUpdateAsync(u => Text(u, "runningVersion") == "9.1.0" && Text(u, "phase") == "idle" && Slots().Trial is null, service);
        Assert.Equal("a", Text(status.GetProperty("update"), "slot"));
        Assert.Contains(75, service.Exits);
        Assert.Contains("switching from 0.1.0 and restarting", service.Output);
        Assert.Contains("is healthy: the update is complete", service.Output);
        Assert.Equal(("a", "9.1.0"), (Slots().Current, Slots().CurrentVersion));
        AssertRelays();

        // A release that cannot start: three starts on trial, then slot a again; the version is not tried again.
        int startsBefore = service.Starts;
        PublishDocument(PublishRelease("9.2.0", CrashingBinary("9.2.0")));
        status = await WaitForUpdateAsync(u => u.GetProperty("lastFailure").ValueKind == JsonValueKind.Object
            && Text(u, "runningVersion") == "9.1.0" && Text(u, "phase") == "refused", service);
        JsonElement update = status.GetProperty("update");
        Assert.Equal("9.2.0", Text(update.GetProperty("lastFailure"), "version"));
        Assert.Contains("did not become healthy in 3 starts", Text(update.GetProperty("lastFailure"), "reason"));
        Assert.Contains("was rolled back on this box", Text(update, "problem"));
        Assert.Equal("a", Text(update, "slot"));
        Assert.Contains(status.GetProperty("reasons").EnumerateArray(), r => r.GetProperty("code").GetString() == "D13-update-rolled-back");
        Assert.Equal(3, CountOf(service.Output, "this release cannot start"));
        Assert.Equal(("a", null), (Slots().Current, Slots().Trial));
        AssertRelays();

        // Still named, never retried: no more starts than the switch, the three trials and the rollback's.
        await Task.Delay(3000);
        Assert.Equal(startsBefore + 4, service.Starts);

        // A newer version is tried, and clears D13 once it runs.
        PublishDocument(PublishRelease("9.3.0", GoodBinary));
        status = await WaitForUpdateAsync(u => Text(u, "runningVersion") == "9.3.0" && Text(u, "phase") == "idle" && Slots().Trial is null, service);
        Assert.Equal("b", Text(status.GetProperty("update"), "slot"));
        Assert.DoesNotContain(status.GetProperty("reasons").EnumerateArray(), r => r.GetProperty("code").GetString()!.StartsWith("D13", StringComparison.Ordinal));
        using var http = new HttpClient();
        string metrics = await http.GetStringAsync($"http://127.0.0.1:{_statusPort}/metrics");
        Assert.Contains("edgerelay_update_info{running_version=\"9.3.0\",slot=\"b\",phase=\"idle\"} 1", metrics);

        // The slots are the relay user's to write, the release keys (bootstrap file) are not: a binary of someone's own, with a
        // manifest that matches it but is not signed by a release key, is never started, and the named release comes back.
        var store = new SlotStore(StateDirectory);
        // Beside the running binary and renamed over it: a running binary cannot be written (ETXTBSY).
        File.WriteAllBytes(store.BinaryPath("b") + ".planted", CrashingBinary("9.3.0"));
        File.Move(store.BinaryPath("b") + ".planted", store.BinaryPath("b"), overwrite: true);
        using (var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            File.WriteAllText(store.ManifestPath("b"), ReleaseManifest.ForBinary(store.BinaryPath("b"), "9.3.0", "linux-x64").Sign(stranger));
        }
        service.KillRunning();
        await WaitForUpdateAsync(u => Text(u, "runningVersion") == "9.3.0" && Text(u, "slot") == "a" && Text(u, "phase") == "idle" && Slots().Trial is null, service);
        Assert.Contains("slot b: the release manifest is signed by key", service.Output);
        Assert.Equal(3, CountOf(service.Output, "this release cannot start"));
    }

    [Fact]
    public async Task A_release_that_starts_and_never_gives_a_verdict_is_rolled_back_by_the_guard_outside_it()
    {
        PublishDocument(PublishRelease("9.8.0", HangingBinary("9.8.0")));
        using var service = new ServiceSupervisor(AotBinary.Path, "run", "--config", WriteBootstrap());

        // The switch, one start of the release (it hangs: its own watch never runs), the guard's rollback and kill after
        // its 30 s and the grace, and the packaged binary again, which remembers.
        JsonElement status = await WaitForUpdateAsync(u => u.GetProperty("lastFailure").ValueKind == JsonValueKind.Object
            && Text(u, "runningVersion") == "0.1.0" && Text(u, "phase") == "refused", service, wait: TimeSpan.FromSeconds(120));
        JsonElement update = status.GetProperty("update");
        Assert.Equal("9.8.0", Text(update.GetProperty("lastFailure"), "version"));
        Assert.Equal($"it gave no verdict within {30 + (int)TrialGuard.Grace.TotalSeconds} s of its start 1 (the trial guard stopped it)",
            Text(update.GetProperty("lastFailure"), "reason"));
        Assert.Contains("release 9.8.0 in slot a rolled back to 0.1.0: it gave no verdict", service.Output);
        Assert.Equal(1, CountOf(service.Output, "this release hangs"));
        // Stopped by SIGKILL (128 + 9), after the switch's status 75.
        Assert.Equal([75, 137], service.Exits);
        Assert.Equal((null, null), (Slots().Current, Slots().Trial));
        AssertRelays();
    }

    [Fact]
    public async Task Releases_with_a_bad_signature_a_wrong_hash_or_an_older_version_are_refused_and_the_running_version_serves()
    {
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        (string Update, string Problem)[] refusals =
        [
            (PublishRelease("9.5.0", GoodBinary, key: stranger), "not a release key of this box"),
            (PublishRelease("9.6.0", GoodBinary, key: _configurationKey), "not a release key of this box"),
            (PublishRelease("9.7.0", GoodBinary, sha256: new string('0', 64)), "SHA-256"),
            (PublishRelease("0.0.9", GoodBinary), "older than the running 0.1.0"),
        ];
        PublishDocument(null);
        using var service = new ServiceSupervisor(AotBinary.Path, "run", "--config", WriteBootstrap());
        await WaitForUpdateAsync(u => Text(u, "phase") == "idle", service);
        foreach ((string update, string problem) in refusals)
        {
            PublishDocument(update);
            JsonElement status = await WaitForUpdateAsync(u => Text(u, "phase") == "refused" && Text(u, "problem")!.Contains(problem, StringComparison.Ordinal), service);
            Assert.Equal("0.1.0", Text(status.GetProperty("update"), "runningVersion"));
        }
        Assert.Equal(1, service.Starts);
        Assert.Equal(SlotState.Packaged.Current, Slots().Current);
        AssertRelays();
    }

    [Fact]
    public async Task An_update_drains_first_the_call_in_progress_relays_to_its_end_and_new_allocations_go_to_the_alternate()
    {
        const string Alternate = "127.0.0.2:3478";
        const string WithAlternate = $$""", "alternateServers": ["{{Alternate}}"]""";
        PublishDocument(null, WithAlternate);
        using var service = new ServiceSupervisor(AotBinary.Path, "run", "--config", WriteBootstrap());
        await WaitForUpdateAsync(u => Text(u, "phase") == "idle", service);
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            // A call of some twelve seconds (600 messages, 20 ms apart), with the update named in its first seconds.
            Task<(int, string)> call = Task.Run(() => Coturn.UClient("-u", RunningRelay.User, "-w", RunningRelay.Password,
                "-p", _port.ToString(CultureInfo.InvariantCulture), "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture),
                "-n", "600", "-m", "1", "-z", "20", "127.0.0.1"));
            await WaitForStatusAsync(s => s.GetProperty("allocations").GetInt32() > 0, service);
            PublishDocument(PublishRelease("9.4.0", GoodBinary, drainSeconds: 60), WithAlternate);

            JsonElement status = await WaitForUpdateAsync(u => Text(u, "phase") == "draining", service);
            Assert.True(status.GetProperty("draining").GetBoolean());
            BinaryRun refused = AotBinary.Run(["probe", "turn", $"turn:127.0.0.1:{_port}", "--user", RunningRelay.User, "--password", "-", "--count", "3"],
                Wait, stdin: RunningRelay.Password);
            Assert.Contains($"300 Try Alternate: the server sends clients to {Alternate}", refused.Stdout, StringComparison.Ordinal);

            (int exit, string output) = await call;
            Coturn.AssertRelayedEverything(exit, output, 600);
            // The call ran to its end on the release it started on: nothing restarted under it.
            Assert.Empty(service.Exits);
        }
        await WaitForUpdateAsync(u => Text(u, "runningVersion") == "9.4.0" && Text(u, "phase") == "idle" && Slots().Trial is null, service);
        Assert.Contains("Draining, asked by the update to 9.4.0", service.Output);
    }

    /// <summary>
    /// The power cut: SIGKILL at a random moment of the download, the install, the switch or the trial, 50 times over
    /// the same state directory, each time with a new release to go to. Every start after a cut must come up READY,
    /// from the packaged binary or from a slot whose binary matches its manifest.
    /// </summary>
    [Fact]
    public async Task A_power_cut_at_any_moment_of_download_or_switch_leaves_a_bootable_slot()
    {
        const int Trials = 50;
        string bootstrap = WriteBootstrap();
        byte[] binary = GoodBinary;
        var random = new Random(20261203);
        var store = new SlotStore(StateDirectory);
        int cutsBeforeSwitch = 0, cutsAfterSwitch = 0;
        for (int trial = 0; trial < Trials; trial++)
        {
            // A second of soak: each start after a switch proves itself and goes on to the next release within the cut's reach.
            PublishDocument(PublishRelease($"10.{trial}.0", binary, soakSeconds: 1));
            string version = $"10.{trial}.0";
            using (ExternalProcess relay = ExternalProcess.Start(AotBinary.Path, "run", "--config", bootstrap))
            {
                Assert.True(relay.WaitForOutput("Status page on", Wait), $"start {trial} did not come up:\n{relay.Output}");
                // This start may first be the trial of the last cut's release (a probe and a second of soak), then comes the download
                // (about 1.3 s at the fixture's rate), its checks and the switch: cut anywhere in them, or in the restart after.
                Thread.Sleep(random.Next(0, 5000));
                relay.Kill();
            }
            SlotState after = store.Load(out string? problem);
            Assert.Null(problem);
            if (after.Current is { } slot)
            {
                Assert.True(store.Verify(slot, out string? damaged) is not null, damaged);
            }
            if (after.CurrentVersion != version && after.Trial?.Version != version)
            {
                cutsBeforeSwitch++;
            }
            else
            {
                cutsAfterSwitch++;
            }
        }
        // And the box still takes the newest release and proves it.
        PublishDocument(PublishRelease("11.0.0", binary));
        using var service = new ServiceSupervisor(AotBinary.Path, "run", "--config", bootstrap);
        await WaitForUpdateAsync(u => Text(u, "runningVersion") == "11.0.0" && Text(u, "phase") == "idle" && Slots().Trial is null, service);
        AssertRelays();
        // Both kinds of cut happened: otherwise the trials did not test what they claim.
        Assert.True(cutsBeforeSwitch > 5 && cutsAfterSwitch > 5, $"cuts before a switch {cutsBeforeSwitch}, after {cutsAfterSwitch}");
    }

    private static int CountOf(string text, string what)
    {
        int count = 0;
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
