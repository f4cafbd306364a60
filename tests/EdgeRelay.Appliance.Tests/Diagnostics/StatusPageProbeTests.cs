using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Appliance.Web;
using EdgeRelay.Net;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Tests.Diagnostics;

/// <summary>
/// <c>POST /api/probe</c> over real HTTP: the relay probe against the box's own UDP listener, behind the
/// admin token, with credentials from the body that appear in no answer and no log line.
/// </summary>
public sealed class StatusPageProbeTests : IAsyncLifetime
{
    private const string Token = "an-admin-token-of-enough-length";
    private const string User = "alice";
    private const string Password = "alice-password-for-the-probe";

    private static readonly int RelayPortMin = 49500 + Environment.ProcessId % 40 * 5;

    private readonly RelayEngine _engine = new(new TurnServerOptions
    {
        Realm = "edgerelay.test",
        RelayAddressIPv4 = IPAddress.Loopback,
        RelayPortMin = RelayPortMin,
        RelayPortMax = RelayPortMin + 4,
        Users = new Dictionary<string, string> { [User] = Password },
        // The default policy, with the box's own relayed addresses as the one exception (as configured boxes have it).
        PeerPolicy = new PeerAddressPolicy(ownRelayAddresses: [IPAddress.Loopback], relayPortMin: RelayPortMin, relayPortMax: RelayPortMin + 4),
    }, TimeProvider.System, loops: 1);

    private readonly StatusModel _model = new(TimeProvider.System);
    private readonly RecordingLoggerFactory _logs = new();
    private RelayObserver _observer = null!;
    private StatusPage _page = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _engine.Start([new IPEndPoint(IPAddress.Loopback, 0)]);
        _observer = new RelayObserver(_engine, _model, TimeProvider.System);
        _page = await StartPage(Token);
        _http = new HttpClient { BaseAddress = new Uri($"http://{_page.LocalEndPoint}/"), Timeout = TimeSpan.FromSeconds(60) };
    }

    private async Task<StatusPage> StartPage(string? token)
    {
        var page = new StatusPage(new StatusPageOptions
        {
            Endpoint = new IPEndPoint(IPAddress.Loopback, 0),
            AdminToken = token,
            Version = "9.9.9",
            ConfigurationSource = "test",
        }, _engine, _model, _observer, new RecentErrors(TimeProvider.System), TimeProvider.System, () => { });
        await page.StartAsync(_logs);
        return page;
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _page.DisposeAsync();
        _observer.Dispose();
        await _engine.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body)> PostProbe(string? token, string body, HttpClient? http = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/probe") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using HttpResponseMessage response = await (http ?? _http).SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static string Credentials(string password, int count = 5) =>
        JsonSerializer.Serialize(new Dictionary<string, object> { ["user"] = User, ["password"] = password, ["count"] = count });

    [Fact]
    public async Task The_probe_against_the_box_itself_passes_every_step_and_answers_without_the_password()
    {
        (HttpStatusCode status, string body) = await PostProbe(Token, Credentials(Password));
        Assert.True(status == HttpStatusCode.OK, body);
        using JsonDocument json = JsonDocument.Parse(body);
        JsonElement root = json.RootElement;
        Assert.True(root.GetProperty("passed").GetBoolean(), body);
        Assert.Equal($"turn:127.0.0.1:{_engine.LocalEndPoints[0].Port}?transport=udp", root.GetProperty("server").GetString());
        Assert.StartsWith("PASS: ", root.GetProperty("verdict").GetString(), StringComparison.Ordinal);
        Assert.Equal(["binding", "allocate", "allocate-peer", "permission", "channel-bind", "echo", "release"],
            root.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        Assert.All(root.GetProperty("steps").EnumerateArray(), s => Assert.Equal("pass", s.GetProperty("outcome").GetString()));
        JsonElement echo = root.GetProperty("echo");
        Assert.Equal(5, echo.GetProperty("received").GetInt32());
        Assert.Equal(0, echo.GetProperty("lost").GetInt32());
        Assert.Equal(JsonValueKind.Number, echo.GetProperty("p99Ms").ValueKind);
        Assert.DoesNotContain(Password, body, StringComparison.Ordinal);
        Assert.DoesNotContain(_logs.Messages, m => m.Contains(Password, StringComparison.Ordinal));
        Assert.Equal(0, _engine.Server.AllocationCount);
    }

    [Fact]
    public async Task A_wrong_password_is_a_failed_probe_at_allocate_not_an_http_error()
    {
        const string Wrong = "a-wrong-password-for-alice";
        (HttpStatusCode status, string body) = await PostProbe(Token, Credentials(Wrong));
        Assert.Equal(HttpStatusCode.OK, status);
        using JsonDocument json = JsonDocument.Parse(body);
        Assert.False(json.RootElement.GetProperty("passed").GetBoolean());
        JsonElement allocate = json.RootElement.GetProperty("steps")[1];
        Assert.Equal("fail", allocate.GetProperty("outcome").GetString());
        Assert.Equal("401 Unauthenticated: wrong user name or password", allocate.GetProperty("detail").GetString());
        Assert.Equal("skipped", json.RootElement.GetProperty("steps")[2].GetProperty("outcome").GetString());
        Assert.DoesNotContain(Wrong, body, StringComparison.Ordinal);
        Assert.DoesNotContain(_logs.Messages, m => m.Contains(Wrong, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_probe_needs_the_admin_token()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostProbe(null, Credentials(Password))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostProbe("not-the-admin-token-at-all", Credentials(Password))).Status);
        Assert.Equal(0, _engine.Server.Counters.AllocationsCreated);
    }

    [Fact]
    public async Task Without_a_configured_token_the_probe_is_off()
    {
        await using StatusPage page = await StartPage(token: null);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{page.LocalEndPoint}/") };
        Assert.Equal(HttpStatusCode.Forbidden, (await PostProbe(Token, Credentials(Password), http)).Status);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{\"user\": \"alice\"}")]
    [InlineData("{\"user\": \"alice\", \"password\": \"\"}")]
    [InlineData("{\"user\": \"alice\", \"password\": \"x\", \"count\": 0}")]
    [InlineData("{\"user\": 5, \"password\": \"x\"}")]
    public async Task A_body_without_usable_credentials_is_a_400(string body)
    {
        (HttpStatusCode status, string answer) = await PostProbe(Token, body);
        Assert.True(status == HttpStatusCode.BadRequest, $"{status}: {answer}");
        Assert.Equal(0, _engine.Server.Counters.AllocationsCreated);
    }

    /// <summary>Every message logged through the page's logger factory, formatted.</summary>
    private sealed class RecordingLoggerFactory : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<string> Messages { get; } = new();
        public ILogger CreateLogger(string categoryName) => this;
        public void AddProvider(ILoggerProvider provider) { }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Enqueue(formatter(state, exception) + exception);
        public void Dispose() { }
    }
}
