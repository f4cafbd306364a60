using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using EdgeRelay.Appliance.Leds;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Appliance.Web;
using EdgeRelay.Net;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Appliance.Tests.Web;

/// <summary>The status page of a real engine on loopback, over real HTTP.</summary>
public sealed class StatusPageTests : IAsyncLifetime
{
    private const string Token = "an-admin-token-of-enough-length";

    private readonly RelayEngine _engine = new(new TurnServerOptions
    {
        Realm = "edgerelay.test",
        RelayAddressIPv4 = IPAddress.Loopback,
        RelayPortMin = 49700 + Environment.ProcessId % 40 * 5,
        RelayPortMax = 49700 + Environment.ProcessId % 40 * 5 + 4,
        Users = new Dictionary<string, string> { ["alice"] = "alice-password" },
        PeerPolicy = new PeerAddressPolicy(allowLoopback: true),
    }, TimeProvider.System, loops: 1);

    private readonly StatusModel _model = new(TimeProvider.System);
    private readonly RecentErrors _errors = new(TimeProvider.System);
    private RelayObserver _observer = null!;
    private StatusPage _page = null!;
    private HttpClient _http = null!;
    private int _identified;

    public async Task InitializeAsync()
    {
        _engine.Start([new IPEndPoint(IPAddress.Loopback, 0)]);
        _observer = new RelayObserver(_engine, _model, TimeProvider.System);
        _observer.Sample();
        _model.SetStarting(false);
        _page = await StartPage(Token);
        _http = new HttpClient { BaseAddress = new Uri($"http://{_page.LocalEndPoint}/") };
    }

    private async Task<StatusPage> StartPage(string? token)
    {
        var page = new StatusPage(new StatusPageOptions
        {
            Endpoint = new IPEndPoint(IPAddress.Loopback, 0),
            AdminToken = token,
            Version = "9.9.9",
            ConfigurationSource = "/etc/edgerelay/edgerelay.json",
            IceServerUrls = ["turn:192.0.2.1:3478?transport=udp"],
            LedOutputs = () => [LedRole.Green, LedRole.Red],
            HostNames = ["edgerelay.local"],
            Clock = () => new EdgeRelay.Appliance.Clock.ClockStatus(EdgeRelay.Appliance.Clock.ClockSynchronisation.Unsynchronised, false, 0.5005,
                -7201, "adjtimex", "cloud-date", "not synchronised", false, DateTimeOffset.UtcNow),
        }, _engine, _model, _observer, _errors, TimeProvider.System, () => Interlocked.Increment(ref _identified));
        await page.StartAsync(NullLoggerFactory.Instance);
        return page;
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _page.DisposeAsync();
        _observer.Dispose();
        await _engine.DisposeAsync();
    }

    [Fact]
    public async Task Api_status_reports_health_led_listeners_and_ice_servers_without_secrets()
    {
        _errors.Add(Microsoft.Extensions.Logging.LogLevel.Warning, "EdgeRelay.Test", "something to look at");
        using HttpResponseMessage response = await _http.GetAsync("api/status");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        string body = await response.Content.ReadAsStringAsync();
        using JsonDocument json = JsonDocument.Parse(body);
        JsonElement root = json.RootElement;

        Assert.Equal("HealthyIdle", root.GetProperty("health").GetString());
        Assert.Equal("Healthy", root.GetProperty("led").GetProperty("mode").GetString());
        Assert.Equal(["green", "red"], root.GetProperty("led").GetProperty("outputs").EnumerateArray().Select(o => o.GetString()));
        Assert.Equal("9.9.9", root.GetProperty("version").GetString());
        Assert.Equal("io_uring", root.GetProperty("backend").GetString());
        Assert.Equal("/etc/edgerelay/edgerelay.json", root.GetProperty("configuration").GetProperty("source").GetString());
        Assert.Equal($"{_engine.LocalEndPoints[0]}", root.GetProperty("listeners")[0].GetProperty("endpoint").GetString());
        Assert.Equal("turn:192.0.2.1:3478?transport=udp", root.GetProperty("iceServers")[0].GetProperty("urls")[0].GetString());
        Assert.Contains("something to look at", root.GetProperty("lastErrors")[0].GetString());
        Assert.Equal(["udp", "tcp", "tls"], root.GetProperty("transports").EnumerateArray().Select(t => t.GetProperty("transport").GetString()));
        JsonElement clock = root.GetProperty("clock");
        Assert.Equal("unsynchronised", clock.GetProperty("state").GetString());
        Assert.Equal(-7201, clock.GetProperty("cloudDateOffsetSeconds").GetDouble());
        Assert.Equal(0.5005, clock.GetProperty("maxErrorSeconds").GetDouble());
        Assert.Equal("adjtimex", clock.GetProperty("source").GetString());
        Assert.DoesNotContain("alice-password", body, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fault_shows_in_api_status_and_metrics()
    {
        _model.Raise(StatusReasons.TlsCertificateUnusable);
        try
        {
            using JsonDocument json = JsonDocument.Parse(await _http.GetStringAsync("api/status"));
            Assert.Equal("Fault", json.RootElement.GetProperty("health").GetString());
            Assert.Equal(3, json.RootElement.GetProperty("led").GetProperty("faultCode").GetInt32());
            Assert.Equal("F3-tls-certificate-unusable", json.RootElement.GetProperty("reasons")[0].GetProperty("code").GetString());

            string metrics = await _http.GetStringAsync("metrics");
            Assert.Contains("edgerelay_health{state=\"fault\"} 1\n", metrics, StringComparison.Ordinal);
            Assert.Contains("edgerelay_status_reason{code=\"F3-tls-certificate-unusable\",severity=\"fault\"} 1\n", metrics, StringComparison.Ordinal);
        }
        finally
        {
            _model.Clear(StatusReasons.TlsCertificateUnusable);
        }
    }

    [Fact]
    public async Task Metrics_pass_promtool_and_carry_no_per_user_labels()
    {
        using HttpResponseMessage response = await _http.GetAsync("metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        string metrics = await response.Content.ReadAsStringAsync();
        Assert.Contains("edgerelay_allocations{transport=\"udp\"} 0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("edgerelay_stream_connections{transport=\"tls\"} 0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("edgerelay_auth_failures_total{reason=\"unknown_user\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("edgerelay_clock_synchronised 0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("edgerelay_clock_max_error_seconds 0.5005\n", metrics, StringComparison.Ordinal);
        Assert.Contains("edgerelay_clock_cloud_offset_seconds -7201\n", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", metrics, StringComparison.Ordinal);

        string promtool = File.Exists("/usr/bin/promtool") ? "/usr/bin/promtool"
            : throw new InvalidOperationException("/usr/bin/promtool is missing: install Debian's prometheus package (scripts/test.sh does)");
        var start = new ProcessStartInfo(promtool, ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(metrics);
        process.StandardInput.Close();
        string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"promtool check metrics failed:\n{output}");
        Assert.Equal("", output.Trim());
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("rebind.attacker.test:80")]
    public async Task A_host_header_that_is_not_an_ip_localhost_or_a_configured_name_is_refused(string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/status");
        request.Headers.Host = host;
        using HttpResponseMessage response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("edgerelay.local")]
    [InlineData("127.0.0.1")]
    public async Task Ip_literals_localhost_and_configured_names_are_answered(string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Host = $"{host}:{_page.LocalEndPoint!.Port}";
        using HttpResponseMessage response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string html = await response.Content.ReadAsStringAsync();
        Assert.Contains("What the LEDs say", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", "", StringComparison.Ordinal), StringComparison.Ordinal); // nothing from elsewhere
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Identify_needs_the_admin_token()
    {
        using (HttpResponseMessage none = await _http.PostAsync("api/identify", null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        }
        using (var wrong = new HttpRequestMessage(HttpMethod.Post, "api/identify"))
        {
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token + "x");
            Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(wrong)).StatusCode);
        }
        Assert.Equal(0, _identified);
        using var right = new HttpRequestMessage(HttpMethod.Post, "api/identify");
        right.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using HttpResponseMessage ok = await _http.SendAsync(right);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(1, _identified);
    }

    [Fact]
    public async Task Without_a_self_check_there_is_no_panel_and_check_now_says_what_to_configure()
    {
        using JsonDocument json = JsonDocument.Parse(await _http.GetStringAsync("api/status"));
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("selfCheck").ValueKind);

        using (HttpResponseMessage none = await _http.PostAsync("api/selfcheck", null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/selfcheck");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using HttpResponseMessage response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("selfCheck.stunServers", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_an_admin_token_actions_are_forbidden()
    {
        await using StatusPage page = await StartPage(token: null);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{page.LocalEndPoint}/") };
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/identify");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using HttpResponseMessage response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("status.adminToken", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, _identified);
    }
}
