using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Tests.Shared;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Cloud;

/// <summary>
/// The shipped binary pulling its configuration from a real nginx with TLS: it picks up a new version
/// while a TURN client relays through it, lives on the last good version through every fault the
/// cloud can have, and starts from its store when the cloud is gone.
/// </summary>
[Collection("cloud")]
public sealed class CloudConfigurationTests : IAsyncLifetime, IDisposable
{
    private const string DocumentPath = "boxes/venue-12.jws";
    private const string Token = "device-token-0123456789";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-cloud-e2e-").FullName;
    private readonly ECDsa _signingKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly int _port = Ports.FreeUdpPort();
    private readonly int _statusPort = Ports.FreeUdpPort();
    private readonly (int First, int Last) _relayPorts = Ports.RelayRange();
    private readonly List<ExternalProcess> _processes = [];
    private NginxServer _cloud = null!;

    public async Task InitializeAsync() => _cloud = await NginxServer.StartAsync(new NginxServerOptions { DeviceToken = Token });

    public async Task DisposeAsync()
    {
        foreach (ExternalProcess process in _processes)
        {
            process.Kill();
            process.Dispose();
        }
        await _cloud.DisposeAsync();
    }

    public void Dispose()
    {
        _signingKey.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private string StateDirectory => Path.Combine(_directory, "state");

    /// <summary>The bootstrap file of a box: only where the cloud is, whom to trust, and where to keep state.</summary>
    private string WriteBootstrap(string more = "")
    {
        string path = Path.Combine(_directory, "bootstrap.json");
        File.WriteAllText(path, $$"""
            {
              {{more}}
              "stateDirectory": "{{StateDirectory}}",
              "cloud": {
                "url": "{{_cloud.UrlOf(DocumentPath)}}",
                "trustedKeys": ["{{TrustedKey.FromSigningKey(_signingKey)}}"],
                "deviceToken": "{{Token}}",
                "caCertificate": "{{_cloud.CaCertificatePath}}",
                "pollIntervalSeconds": 1,
                "timeoutSeconds": 3,
                "maxBackoffSeconds": 2,
                "maxDocumentBytes": 65536
              }
            }
            """);
        return path;
    }

    /// <summary>A cloud document: alice (and more users), UDP on the test's port, the status page.</summary>
    private string Publish(long version, string users = "", string more = "", int? port = null)
    {
        string json = $$"""
            {
              "version": {{version}},
              "realm": "{{RunningRelay.Realm}}",
              "listeners": [{ "transport": "udp", "endpoint": "127.0.0.1:{{port ?? _port}}" }{{more}}],
              "relay": { "address": "127.0.0.1", "portRange": "{{_relayPorts.First}}-{{_relayPorts.Last}}" },
              "auth": { "users": { "{{RunningRelay.User}}": "{{RunningRelay.Password}}"{{users}} } },
              "peers": { "allowLoopback": true },
              "status": { "endpoint": "127.0.0.1:{{_statusPort}}" },
              "time": { "requireSynchronisation": false }
            }
            """;
        string signed = SignedDocument.Sign(Encoding.UTF8.GetBytes(json), _signingKey);
        _cloud.WriteDocument(DocumentPath, signed);
        return signed;
    }

    private ExternalProcess StartRelay(string bootstrap)
    {
        ExternalProcess relay = ExternalProcess.Start(AotBinary.Path, "run", "--config", bootstrap);
        _processes.Add(relay);
        return relay;
    }

    private async Task<JsonElement> StatusAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return await http.GetFromJsonAsync<JsonElement>($"http://127.0.0.1:{_statusPort}/api/status");
    }

    /// <summary>Polls /api/status (bounded) until <paramref name="condition"/> holds; returns the last document read.</summary>
    private async Task<JsonElement> WaitForStatusAsync(Func<JsonElement, bool> condition, ExternalProcess relay)
    {
        var waited = Stopwatch.StartNew();
        JsonElement last = default;
        while (waited.Elapsed < Wait)
        {
            try
            {
                last = await StatusAsync();
                if (condition(last))
                {
                    return last;
                }
            }
            catch (HttpRequestException)
            {
                // The page is not up yet.
            }
            await Task.Delay(100);
        }
        Assert.Fail($"the status never became as expected; last: {last}\nrelay output:\n{relay.Output}\nnginx:\n{_cloud.ErrorLog}");
        return last;
    }

    private static long VersionOf(JsonElement status) =>
        status.GetProperty("configuration").GetProperty("version").ValueKind == JsonValueKind.Number
            ? status.GetProperty("configuration").GetProperty("version").GetInt64() : -1;

    private static bool HasReason(JsonElement status, string prefix) =>
        status.GetProperty("reasons").EnumerateArray().Any(r => r.GetProperty("code").GetString()!.StartsWith(prefix, StringComparison.Ordinal));

    private string[] UClientArgs(int peerPort, int messages, string user = RunningRelay.User, string password = RunningRelay.Password) =>
    [
        "-u", user, "-w", password,
        "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture),
        "-n", messages.ToString(CultureInfo.InvariantCulture), "-m", "1", "-l", "180", "-z", "10",
        "-p", _port.ToString(CultureInfo.InvariantCulture), "127.0.0.1",
    ];

    [Fact]
    public async Task A_new_version_is_picked_up_while_a_turn_client_relays_and_an_unchanged_one_costs_a_304()
    {
        Publish(1);
        ExternalProcess relay = StartRelay(WriteBootstrap());
        await WaitForStatusAsync(s => VersionOf(s) == 1, relay);

        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            // About ten seconds of traffic (1000 messages each way, one every 10 ms) with version 2 arriving in the middle.
            Task<(int, string)> client = Task.Run(() => Coturn.UClient(UClientArgs(peerPort, 1000)));
            await Task.Delay(2000);
            Publish(2, users: """, "bob": "another good password" """, more: $$""", { "transport": "tcp", "endpoint": "127.0.0.1:{{_port}}" }""");
            JsonElement status = await WaitForStatusAsync(s => VersionOf(s) == 2, relay);
            Assert.Equal("cloud", status.GetProperty("configuration").GetProperty("source").GetString());
            Assert.Contains(status.GetProperty("listeners").EnumerateArray(), l => l.GetProperty("transport").GetString() == "tcp");
            Assert.False(client.IsCompleted, "the change must land while the client relays");

            (int exit, string output) = await client;
            Coturn.AssertRelayedEverything(exit, output, 1000);

            // bob, who came with version 2, relays too, over the TCP listener that came with it.
            (exit, output) = Coturn.UClient(["-t", .. UClientArgs(peerPort, 20, "bob", "another good password")]);
            Coturn.AssertRelayedEverything(exit, output, 20);
        }
        Assert.True(relay.WaitForOutput("configuration version 2 from", Wait), relay.Output);

        // Nothing new: the next polls are 304s and nothing is applied again.
        Assert.True(await _cloud.WaitForAccessLogAsync($"\"GET /{DocumentPath} HTTP/1.1\" 304", Wait), _cloud.AccessLog());
        await Task.Delay(1500);
        Assert.Equal(1, CountOf(relay.Output, "configuration version 2 from"));
        Assert.Equal(2, VersionOf(await StatusAsync()));
        using var http = new HttpClient();
        string metrics = await http.GetStringAsync($"http://127.0.0.1:{_statusPort}/metrics");
        Assert.Contains("\nedgerelay_configuration_version 2\n", metrics);
        Assert.Contains("\nedgerelay_cloud_last_contact_timestamp_seconds ", metrics);
    }

    [Fact]
    public async Task Through_every_fault_the_relay_serves_on_the_last_good_version_and_shows_why()
    {
        string good = Publish(3);
        ExternalProcess relay = StartRelay(WriteBootstrap());
        await WaitForStatusAsync(s => VersionOf(s) == 3 && s.GetProperty("health").GetString() == "HealthyIdle", relay);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            (string Fault, string Reason, Func<Task> Break)[] faults =
            [
                ("server down", "D2", () => _cloud.StopAsync()),
                ("500", "D2", () => _cloud.SetModeAsync(NginxMode.Status500)),
                ("a response that stalls past the timeout", "D2", () => _cloud.SetModeAsync(NginxMode.Stall)),
                ("a truncated body", "D2", () => _cloud.SetModeAsync(NginxMode.Truncated)),
                ("a redirect to http", "D2", () => _cloud.SetModeAsync(NginxMode.RedirectToHttp)),
                ("a bad signature", "D6", () => WriteAsync(Tamper(Publish(4)))),
                ("an unknown key", "D6", () => WriteAsync(SignedDocument.Sign(Encoding.UTF8.GetBytes(ReadPayload(Publish(4))), otherKey))),
                ("an older version", "D6", () => WriteAsync(Publish(2))),
                ("a semantically invalid document (a bad CIDR)", "D6", () => WriteAsync(SignWith(ReadPayload(Publish(4)).Replace("\"allowLoopback\": true", "\"allowLoopback\": true, \"allow\": [\"10.0.0.1/8\"]", StringComparison.Ordinal)))),
                ("an oversized body", "D6", () => WriteAsync(SignWith(ReadPayload(Publish(4)).Replace("\"peers\"", $"\"padding\": \"{new string('x', 70 * 1024)}\", \"peers\"", StringComparison.Ordinal)))),
            ];
            foreach ((string fault, string reason, Func<Task> breakIt) in faults)
            {
                await breakIt();
                JsonElement status = await WaitForStatusAsync(s => HasReason(s, reason), relay);
                Assert.True(VersionOf(status) == 3, $"{fault}: the last good version stays: {status}");
                Assert.Equal("Degraded", status.GetProperty("health").GetString());
                // And it relays on it.
                (int exit, string output) = Coturn.UClient(UClientArgs(peerPort, 10));
                Coturn.AssertRelayedEverything(exit, output, 10);

                // Mend it: the good document again, nginx serving normally; the reason clears.
                if (!_cloud.IsRunning)
                {
                    await _cloud.StartAgainAsync();
                }
                await _cloud.SetModeAsync(NginxMode.Serve);
                _cloud.WriteDocument(DocumentPath, good);
                await WaitForStatusAsync(s => !HasReason(s, "D2") && !HasReason(s, "D6"), relay);
            }
        }
        Assert.Equal(3, VersionOf(await StatusAsync()));
        Assert.Contains("refused, still running version 3: bad signature", relay.Output);
        Assert.Contains("a rollback is refused", relay.Output);
        Assert.Contains("peers.allow[0]: \"10.0.0.1/8\" is not valid", relay.Output);
        Assert.DoesNotContain(Token, relay.Output);
    }

    [Fact]
    public async Task Without_network_the_box_starts_on_its_last_good_version_and_a_damaged_store_falls_back_to_the_bootstrap()
    {
        string bootstrap = WriteBootstrap();
        await RunUntilVersionIsStoredAsync(7, bootstrap);

        await _cloud.StopAsync();
        ExternalProcess second = StartRelay(bootstrap);
        JsonElement status = await WaitForStatusAsync(s => VersionOf(s) == 7 && HasReason(s, "D2"), second);
        Assert.Equal("last-known-good", status.GetProperty("configuration").GetProperty("source").GetString());
        Assert.Contains("Running on the last known good configuration, version 7", second.Output);
        AssertRelaysTenMessages();
        second.Signal("TERM");
        Assert.True(second.WaitForExit(Wait), second.Output);

        // One byte of the stored document changed: the store is passed over, and the box says so.
        string storePath = Path.Combine(StateDirectory, LastKnownGoodStore.FileName);
        string stored = File.ReadAllText(storePath);
        int signature = stored.LastIndexOf('.');
        File.WriteAllText(storePath, stored[..(signature - 5)] + (stored[signature - 5] == 'A' ? 'B' : 'A') + stored[(signature - 4)..]);
        ExternalProcess third = StartRelay(bootstrap);
        Assert.True(third.WaitForOutput("The last known good configuration cannot be used, running on the bootstrap file", Wait), third.Output);
        Assert.Contains("is damaged", third.Output);
        Assert.True(third.WaitForOutput("configuration endpoint", Wait), third.Output);
    }

    [Fact]
    public async Task A_box_with_only_its_cloud_section_is_starting_until_its_first_document_comes_not_faulty()
    {
        await _cloud.StopAsync();
        // The bootstrap has the page (so that the test can look) and the cloud, no listener.
        ExternalProcess relay = StartRelay(WriteBootstrap($$""" "status": { "endpoint": "127.0.0.1:{{_statusPort}}" }, """));
        JsonElement status = await WaitForStatusAsync(s => HasReason(s, "D2"), relay);
        Assert.Equal("Starting", status.GetProperty("health").GetString());
        Assert.Equal("Starting", status.GetProperty("led").GetProperty("mode").GetString());
        Assert.False(HasReason(status, "F1"), $"waiting for the first document is not a fault: {status}");
        Assert.Empty(status.GetProperty("listeners").EnumerateArray());

        Publish(1);
        await _cloud.StartAgainAsync();
        status = await WaitForStatusAsync(s => VersionOf(s) == 1 && s.GetProperty("health").GetString() == "HealthyIdle", relay);
        Assert.Single(status.GetProperty("listeners").EnumerateArray());
        AssertRelaysTenMessages();
    }

    [Fact]
    public async Task A_stored_version_that_cannot_start_here_falls_back_to_the_bootstrap_and_stays_the_floor()
    {
        string bootstrap = WriteBootstrap();
        await RunUntilVersionIsStoredAsync(7, bootstrap);

        // Another program holds the stored document's port now. Exiting would make systemd restart the box
        // into the same failure for good; it starts from the bootstrap file instead and asks the cloud.
        using var squatter = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork,
            System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        squatter.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, _port));
        ExternalProcess second = StartRelay(bootstrap);
        Assert.True(second.WaitForOutput("the last known good configuration version 7 cannot start here", Wait), second.Output);
        // Version 7 stays the floor: the cloud's copy of it is not taken for news.
        Assert.True(second.WaitForOutput("version 7 is not newer than the version in force (7)", Wait), second.Output);

        int otherPort = Ports.FreeUdpPort();
        Publish(8, port: otherPort);
        JsonElement status = await WaitForStatusAsync(s => VersionOf(s) == 8, second);
        Assert.Equal($"127.0.0.1:{otherPort}", status.GetProperty("listeners")[0].GetProperty("endpoint").GetString());
    }

    /// <summary>coturn's client relays ten messages each way through the relay's UDP listener, losing none.</summary>
    private void AssertRelaysTenMessages()
    {
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            (int exit, string output) = Coturn.UClient(UClientArgs(peerPort, 10));
            Coturn.AssertRelayedEverything(exit, output, 10);
        }
    }

    /// <summary>A first run of the box that applies (and so stores) <paramref name="version"/>, then stops in order.</summary>
    private async Task RunUntilVersionIsStoredAsync(long version, string bootstrap)
    {
        Publish(version);
        ExternalProcess first = StartRelay(bootstrap);
        await WaitForStatusAsync(s => VersionOf(s) == version, first);
        first.Signal("TERM");
        Assert.True(first.WaitForExit(Wait), first.Output);
    }

    private Task WriteAsync(string document)
    {
        _cloud.WriteDocument(DocumentPath, document);
        return Task.CompletedTask;
    }

    private string SignWith(string payload) => SignedDocument.Sign(Encoding.UTF8.GetBytes(payload), _signingKey);

    private static string ReadPayload(string signed)
    {
        Assert.True(SignedDocument.TryReadPayloadUnverified(signed, out byte[] payload));
        return Encoding.UTF8.GetString(payload);
    }

    /// <summary>The same signature over a payload with one more user: what an attacker on the way would try.</summary>
    private static string Tamper(string signed)
    {
        string[] parts = signed.Split('.');
        string payload = ReadPayload(signed).Replace("\"users\": {", "\"users\": { \"mallory\": \"let me in please\",", StringComparison.Ordinal);
        return $"{parts[0]}.{System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload))}.{parts[2]}";
    }

    private static int CountOf(string text, string part)
    {
        int count = 0;
        for (int i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
