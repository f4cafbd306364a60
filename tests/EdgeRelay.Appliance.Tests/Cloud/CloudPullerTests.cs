using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Appliance.Tests.Leds;
using EdgeRelay.Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Appliance.Tests.Cloud;

/// <summary>
/// The puller against a real nginx with TLS from a test CA: what it applies, what it refuses, what it
/// says about it (outcome, status reason), and that the last good configuration stays in force and in
/// the store whatever the cloud does.
/// </summary>
public sealed class CloudPullerTests : IAsyncLifetime, IDisposable
{
    private const string DocumentPath = "boxes/venue-12.jws";
    private const string Token = "device-token-0123456789";
    private readonly ECDsa _signingKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly string _stateDirectory = Directory.CreateTempSubdirectory("edgerelay-cloud-").FullName;
    private readonly ManualTimeProvider _time = new();
    private readonly StatusModel _model;
    private readonly RecordingSink _sink = new();
    private NginxServer _cloud = null!;

    public CloudPullerTests()
    {
        _model = new StatusModel(_time);
        _model.SetStarting(false);
    }

    public async Task InitializeAsync() => _cloud = await NginxServer.StartAsync(new NginxServerOptions { DeviceToken = Token });

    public async Task DisposeAsync() => await _cloud.DisposeAsync();

    public void Dispose()
    {
        _signingKey.Dispose();
        Directory.Delete(_stateDirectory, recursive: true);
    }

    private CloudOptions Options(Action<CloudOptionsBuilder>? change = null)
    {
        var builder = new CloudOptionsBuilder
        {
            Url = _cloud.UrlOf(DocumentPath),
            TrustedKeys = [TrustedKey.FromSigningKey(_signingKey)],
        };
        change?.Invoke(builder);
        return new CloudOptions
        {
            Url = builder.Url,
            TrustedKeys = builder.TrustedKeys,
            DeviceToken = builder.DeviceToken,
            Timeout = builder.Timeout,
            MaxDocumentBytes = builder.MaxDocumentBytes,
            CaCertificate = _cloud.CertificateAuthority.Certificate,
            PollInterval = TimeSpan.FromSeconds(10),
        };
    }

    private sealed class CloudOptionsBuilder
    {
        public required Uri Url { get; set; }
        public required IReadOnlyList<TrustedKey> TrustedKeys { get; set; }
        public string? DeviceToken { get; set; } = Token;
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(3);
        public int MaxDocumentBytes { get; set; } = 64 * 1024;
    }

    private CloudPuller<TestConfiguration> Puller(CloudOptions options, long appliedVersion = 0) =>
        new(options, _sink, new LastKnownGoodStore(_stateDirectory),
            new AppliedConfiguration("bootstrap", appliedVersion, null, null, options.TrustedKeys, null),
            _model, _time, NullLogger.Instance);

    private static string Payload(long version, string extra = "") =>
        $$"""{ "version": {{version}}, "users": { "alice": "correct horse" }{{extra}} }""";

    private string Publish(long version, ECDsa? key = null, string extra = "")
    {
        string signed = SignedDocument.Sign(Encoding.UTF8.GetBytes(Payload(version, extra)), key ?? _signingKey);
        _cloud.WriteDocument(DocumentPath, signed);
        return signed;
    }

    private IEnumerable<string> Reasons() => _model.Current.Reasons.Select(r => r.Code);

    [Fact]
    public async Task A_new_version_is_applied_and_stored_and_an_unchanged_one_costs_a_304()
    {
        string signed = Publish(1);
        await using CloudPuller<TestConfiguration> puller = Puller(Options());

        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());
        Assert.Equal([1L], _sink.Applied);
        Assert.Equal(1, puller.Status.Version);
        Assert.Equal("cloud", puller.Status.Source);
        Assert.Equal(TrustedKey.FromSigningKey(_signingKey).KeyId, puller.Status.SignedBy);
        StoreLoadResult stored = new LastKnownGoodStore(_stateDirectory).Load();
        Assert.Equal(signed, stored.Document!.Document);
        Assert.Equal(1, stored.Document.Version);
        Assert.NotNull(stored.Document.ETag);

        Assert.Equal(PollOutcome.Unchanged, await puller.PollNowAsync());
        Assert.Equal([1L], _sink.Applied);
        Assert.True(await _cloud.WaitForAccessLogAsync($"\"GET /{DocumentPath} HTTP/1.1\" 304", TimeSpan.FromSeconds(10)), _cloud.AccessLog());

        Publish(2);
        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());
        Assert.Equal([1L, 2L], _sink.Applied);
        Assert.Empty(Reasons());
    }

    public static TheoryData<string> Faults() =>
    [
        "server down", "500", "stall past the timeout", "truncated body", "redirect to http", "wrong device token",
        "bad signature", "unknown key", "older version", "invalid document", "oversized body", "not a signed document",
    ];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task A_fault_leaves_the_last_good_configuration_in_force_and_says_why(string fault)
    {
        string good = Publish(5);
        CloudOptions options = Options();
        await using CloudPuller<TestConfiguration> puller = Puller(options);
        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        (PollOutcome expected, string reason, string problem) = fault switch
        {
            "server down" => (PollOutcome.Unreachable, "D2", "Connection refused"),
            "500" => (PollOutcome.Unreachable, "D2", "HTTP 500"),
            "stall past the timeout" => (PollOutcome.Unreachable, "D2", "no complete answer within 3 s"),
            "truncated body" => (PollOutcome.Unreachable, "D2", "ended prematurely"),
            "redirect to http" => (PollOutcome.Unreachable, "D2", "refused, only HTTPS is followed"),
            "wrong device token" => (PollOutcome.Unreachable, "D2", "HTTP 401"),
            "bad signature" => (PollOutcome.Rejected, "D6", "bad signature"),
            "unknown key" => (PollOutcome.Rejected, "D6", "which is not in cloud.trustedKeys"),
            "older version" => (PollOutcome.Rejected, "D6", "version 4 is older than the applied version 5"),
            "invalid document" => (PollOutcome.Rejected, "D6", "peers.allow[0]: \"10.0.0.1/8\" is not valid"),
            "oversized body" => (PollOutcome.Rejected, "D6", "more than cloud.maxDocumentBytes"),
            _ => (PollOutcome.Rejected, "D6", "not a signed document"),
        };
        switch (fault)
        {
            case "server down": await _cloud.StopAsync(); break;
            case "500": await _cloud.SetModeAsync(NginxMode.Status500); break;
            case "stall past the timeout": Publish(6); await _cloud.SetModeAsync(NginxMode.Stall); break;
            case "truncated body": Publish(6); await _cloud.SetModeAsync(NginxMode.Truncated); break;
            case "redirect to http": Publish(6); await _cloud.SetModeAsync(NginxMode.RedirectToHttp); break;
            case "wrong device token": Publish(6); await _cloud.SetDeviceTokenAsync("another-token-0123456789"); break;
            case "bad signature":
                string[] parts = Publish(6).Split('.');
                // The payload of version 7, under the signature of version 6.
                _cloud.WriteDocument(DocumentPath, $"{parts[0]}.{Convert.ToBase64String(Encoding.UTF8.GetBytes(Payload(7))).TrimEnd('=').Replace('+', '-').Replace('/', '_')}.{parts[2]}");
                break;
            case "unknown key": Publish(6, otherKey); break;
            case "older version": Publish(4); break;
            case "invalid document": Publish(6, extra: """, "invalid": "peers.allow[0]: \"10.0.0.1/8\" is not valid: expected a CIDR" """); break;
            case "oversized body": Publish(6, extra: $", \"padding\": \"{new string('x', 70 * 1024)}\""); break;
            default: _cloud.WriteDocument(DocumentPath, Payload(6)); break;
        }

        Assert.Equal(expected, await puller.PollNowAsync());
        Assert.Contains(problem, puller.Status.LastProblem);
        Assert.Contains(Reasons(), code => code.StartsWith(reason, StringComparison.Ordinal));
        Assert.Equal(Health.Degraded, _model.Current.Health);
        // Nothing else was applied, and the store still holds the good document.
        Assert.Equal([5L], _sink.Applied);
        Assert.Equal(5, puller.Status.Version);
        Assert.Equal(good, new LastKnownGoodStore(_stateDirectory).Load().Document!.Document);
    }

    [Fact]
    public async Task The_reason_clears_when_the_cloud_answers_well_again()
    {
        Publish(1);
        await using CloudPuller<TestConfiguration> puller = Puller(Options());
        await _cloud.SetModeAsync(NginxMode.Status500);
        Assert.Equal(PollOutcome.Unreachable, await puller.PollNowAsync());
        Assert.Contains("D2-cloud-unreachable", Reasons());

        await _cloud.SetModeAsync(NginxMode.Serve);
        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());
        Assert.Empty(Reasons());
        Assert.Equal(Health.HealthyIdle, _model.Current.Health);
    }

    [Fact]
    public async Task A_refused_document_is_not_fetched_again_until_it_changes()
    {
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Publish(1, otherKey);
        await using CloudPuller<TestConfiguration> puller = Puller(Options());
        Assert.Equal(PollOutcome.Rejected, await puller.PollNowAsync());
        // If-None-Match carries the refused document's ETag: nginx answers 304, and it stays refused.
        Assert.Equal(PollOutcome.Rejected, await puller.PollNowAsync());
        Assert.True(await _cloud.WaitForAccessLogAsync($"\"GET /{DocumentPath} HTTP/1.1\" 304", TimeSpan.FromSeconds(10)), _cloud.AccessLog());
        Assert.Contains("D6-configuration-rejected", Reasons());

        Publish(1);
        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());
        Assert.DoesNotContain("D6-configuration-rejected", Reasons());
    }

    [Fact]
    public async Task An_https_redirect_is_followed()
    {
        Publish(3);
        await _cloud.SetModeAsync(NginxMode.RedirectToHttps);
        await using CloudPuller<TestConfiguration> puller = Puller(Options());
        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());
        Assert.Equal([3L], _sink.Applied);
    }

    [Fact]
    public async Task A_server_certificate_from_another_ca_is_refused()
    {
        Publish(1);
        using TestCertificateAuthority other = TestCertificateAuthority.Create("Another CA");
        CloudOptions options = Options() with { CaCertificate = other.Certificate };
        await using CloudPuller<TestConfiguration> puller = Puller(options);
        Assert.Equal(PollOutcome.Unreachable, await puller.PollNowAsync());
        Assert.Contains("SSL", puller.Status.LastProblem, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(_sink.Applied);
    }

    [Fact]
    public async Task A_document_that_cannot_be_applied_is_refused_and_not_stored()
    {
        string good = Publish(1);
        await using CloudPuller<TestConfiguration> puller = Puller(Options());
        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());

        Publish(2, extra: """, "applyFails": "listener 0.0.0.0:3478/udp cannot be bound: address in use" """);
        Assert.Equal(PollOutcome.Rejected, await puller.PollNowAsync());
        Assert.Contains("version 2 could not be applied, version 1 stays: listener 0.0.0.0:3478/udp cannot be bound", puller.Status.LastProblem);
        Assert.Equal(1, puller.Status.Version);
        Assert.Equal(good, new LastKnownGoodStore(_stateDirectory).Load().Document!.Document);
    }

    [Fact]
    public async Task Any_failure_to_apply_is_a_refusal_that_is_tried_again_and_never_an_exception()
    {
        Publish(1);
        await using CloudPuller<TestConfiguration> puller = Puller(Options());
        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());

        // Not the sink's CloudDocumentException: what a bug, or a socket, could throw.
        Publish(2, extra: """, "applyThrows": "address not available" """);
        Assert.Equal(PollOutcome.Rejected, await puller.PollNowAsync());
        Assert.Contains("version 2 could not be applied, version 1 stays: address not available", puller.Status.LastProblem);
        Assert.Contains("D6-configuration-rejected", Reasons());
        // A failure to apply may pass (a port in use): the same document is fetched and tried again, no 304.
        Assert.Equal(PollOutcome.Rejected, await puller.PollNowAsync());
        Assert.True(await _cloud.WaitForAccessLogAsync($"\"GET /{DocumentPath} HTTP/1.1\" 200", TimeSpan.FromSeconds(10)));
        Assert.DoesNotContain($"\"GET /{DocumentPath} HTTP/1.1\" 304", _cloud.AccessLog());
        Assert.Equal(1, puller.Status.Version);
    }

    [Fact]
    public async Task A_signed_document_may_rotate_the_trusted_keys_and_the_old_key_is_refused_afterwards()
    {
        using var nextKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await using CloudPuller<TestConfiguration> puller = Puller(Options());
        Publish(1, extra: $", \"trustedKeys\": [\"{TrustedKey.FromSigningKey(nextKey)}\"]");
        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());
        Assert.Equal(TrustedKey.FromSigningKey(nextKey).KeyId, Assert.Single(puller.TrustedKeys).KeyId);

        Publish(2);
        Assert.Equal(PollOutcome.Rejected, await puller.PollNowAsync());
        Assert.Contains("not in cloud.trustedKeys", puller.Status.LastProblem);

        Publish(3, nextKey);
        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());
        // The store remembers which keys verified it, so a restart checks it with those.
        StoreLoadResult stored = new LastKnownGoodStore(_stateDirectory).Load();
        Assert.Equal(3, stored.Document!.Version);
        Assert.Equal(TrustedKey.FromSigningKey(nextKey).KeyId, stored.SignedBy);
    }

    [Fact]
    public async Task No_good_answer_for_three_poll_intervals_makes_the_configuration_stale()
    {
        Publish(1);
        await using CloudPuller<TestConfiguration> puller = Puller(Options());
        Assert.Equal(PollOutcome.Applied, await puller.PollNowAsync());
        await _cloud.StopAsync();

        _time.Advance(TimeSpan.FromSeconds(25));
        Assert.Equal(PollOutcome.Unreachable, await puller.PollNowAsync());
        Assert.DoesNotContain("D1-configuration-stale", Reasons());

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(PollOutcome.Unreachable, await puller.PollNowAsync());
        Assert.Contains("D1-configuration-stale", Reasons());
        Assert.Contains("D2-cloud-unreachable", Reasons());

        await _cloud.StartAgainAsync();
        Assert.Equal(PollOutcome.Unchanged, await puller.PollNowAsync());
        Assert.Empty(Reasons());
    }

    [Fact]
    public async Task The_device_token_is_sent_and_the_report_reaches_the_cloud()
    {
        CloudOptions options = Options() with { ReportUrl = _cloud.ReportUrl };
        var report = new CloudReport("venue-12", "0.1.0", 7, "cloud", "Relaying", ["D3-certificate-expiring"], 12, 1, 2, 3, 4, 60, "Applied",
            new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using var reporter = new CloudReporter(options, () => report, NullLogger.Instance);
        Assert.True(await reporter.SendAsync());

        RecordedReport recorded = Assert.Single(_cloud.Reports());
        Assert.Equal($"Bearer {Token}", recorded.Authorization);
        using JsonDocument body = JsonDocument.Parse(recorded.Body);
        Assert.Equal("venue-12", body.RootElement.GetProperty("deviceId").GetString());
        Assert.Equal(7, body.RootElement.GetProperty("configurationVersion").GetInt64());
        Assert.Equal("D3-certificate-expiring", body.RootElement.GetProperty("reasons")[0].GetString());

        await _cloud.StopAsync();
        Assert.False(await reporter.SendAsync());
    }

    /// <summary>A configuration as small as a test needs: a version, and instructions to fail.</summary>
    public sealed record TestConfiguration(long Version, IReadOnlyList<TrustedKey>? TrustedKeys, string? ApplyFails, string? ApplyThrows);

    private sealed class RecordingSink : ICloudConfigurationSink<TestConfiguration>
    {
        public List<long> Applied { get; } = [];

        public CloudCandidate<TestConfiguration> Validate(byte[] payload)
        {
            using JsonDocument json = JsonDocument.Parse(payload);
            JsonElement root = json.RootElement;
            if (root.TryGetProperty("invalid", out JsonElement invalid))
            {
                throw new CloudDocumentException(invalid.GetString()!);
            }
            IReadOnlyList<TrustedKey>? keys = root.TryGetProperty("trustedKeys", out JsonElement k)
                ? k.EnumerateArray().Select(e => TrustedKey.Parse(e.GetString()!)).ToList() : null;
            var configuration = new TestConfiguration(root.GetProperty("version").GetInt64(), keys,
                root.TryGetProperty("applyFails", out JsonElement fails) ? fails.GetString() : null,
                root.TryGetProperty("applyThrows", out JsonElement throws) ? throws.GetString() : null);
            return new CloudCandidate<TestConfiguration>(configuration, configuration.Version, keys, null);
        }

        public void Apply(CloudCandidate<TestConfiguration> candidate)
        {
            if (candidate.Configuration.ApplyFails is { } problem)
            {
                throw new CloudDocumentException(problem);
            }
            if (candidate.Configuration.ApplyThrows is { } other)
            {
                throw new InvalidOperationException(other);
            }
            Applied.Add(candidate.Version);
        }
    }
}
