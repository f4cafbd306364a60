using System.Globalization;
using EdgeRelay.Browser.Tests.Support;
using EdgeRelay.Tests.Support;
using Microsoft.Playwright;

namespace EdgeRelay.Browser.Tests;

/// <summary>
/// The admin's view: headless Chromium opens the status page of the shipped binary, sees it healthy with
/// the green LED lit on the mirror, and sees the counters move while coturn's client relays through it.
/// </summary>
public sealed class StatusPageInChromiumTests(Chromium chromium) : IClassFixture<Chromium>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-status-").FullName;

    [Fact]
    public async Task The_status_page_shows_health_the_led_mirror_and_moving_counters()
    {
        int port = Ports.FreeUdpPort();
        int statusPort = Ports.FreeUdpPort();
        string config = RelayConfigFile.Write(_directory, port, $$"""
            "status": { "endpoint": "127.0.0.1:{{statusPort}}" }
            """);
        using var relay = ExternalProcess.Start(AotBinary.Path, "run", "--config", config);
        Assert.True(relay.WaitForOutput("Status page on", TimeSpan.FromSeconds(20)), relay.Output);

        await using IBrowserContext context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1200, Height = 900 },
        });
        IPage page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        page.RequestFailed += (_, request) => errors.Add($"request failed: {request.Url}");
        await page.GotoAsync($"http://127.0.0.1:{statusPort}/");

        await Assertions.Expect(page.Locator("#health")).ToHaveTextAsync("HealthyIdle", new() { Timeout = 10_000 });
        await Assertions.Expect(page.Locator("#led-green")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bon\b"));
        await Assertions.Expect(page.Locator("#led-red")).Not.ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bon\b"));
        await Assertions.Expect(page.Locator("#listeners")).ToHaveTextAsync($"udp 127.0.0.1:{port}");
        await Assertions.Expect(page.Locator("#ice")).ToContainTextAsync($"turn:127.0.0.1:{port}?transport=udp");
        string totalsBefore = await page.Locator("#totals").InnerTextAsync();
        Assert.StartsWith("0 packets", totalsBefore, StringComparison.Ordinal);

        // coturn's client relays for several seconds; meanwhile the page must show it relaying.
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            Task<(int, string)> client = Task.Run(() => Coturn.UClient("-u", RunningRelay.User, "-w", RunningRelay.Password,
                "-p", port.ToString(CultureInfo.InvariantCulture), "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture),
                "-n", "400", "-m", "2", "-z", "20", "127.0.0.1"));
            await Assertions.Expect(page.Locator("#health")).ToHaveTextAsync("Relaying", new() { Timeout = 15_000 });
            await Assertions.Expect(page.Locator("#led-green")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bflicker\b"));
            await Assertions.Expect(page.Locator("#totals")).Not.ToHaveTextAsync(totalsBefore);
            await Assertions.Expect(page.Locator("#allocations")).Not.ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^0 of"));
            await Assertions.Expect(page.Locator("#transports")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^udp: [1-9][0-9]* allocations; tcp: 0 allocations, 0 connections"));
            await page.ScreenshotAsync(new PageScreenshotOptions
            {
                Path = Path.Combine(AppContext.BaseDirectory, "browser-interop", "status-page.png"),
                FullPage = true,
            });
            (int exit, string output) = await client;
            Coturn.AssertRelayedEverything(exit, output, 800);
        }
        Assert.Empty(errors);
        relay.Signal("TERM");
        Assert.True(relay.WaitForExit(TimeSpan.FromSeconds(20)), relay.Output);
    }

    [Fact]
    public async Task The_admin_checks_the_relay_and_identifies_the_box_from_the_page_with_the_token()
    {
        const string Token = "admin-token-for-the-browser-test";
        int port = Ports.FreeUdpPort();
        int statusPort = Ports.FreeUdpPort();
        string config = RelayConfigFile.Write(_directory, port, $$"""
            "status": { "endpoint": "127.0.0.1:{{statusPort}}", "adminToken": "{{Token}}" }
            """);
        using var relay = ExternalProcess.Start(AotBinary.Path, "run", "--config", config);
        Assert.True(relay.WaitForOutput("Status page on", TimeSpan.FromSeconds(20)), relay.Output);

        await using IBrowserContext context = await chromium.Browser.NewContextAsync();
        IPage page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        await page.GotoAsync($"http://127.0.0.1:{statusPort}/");

        // A wrong token is refused, and the page says so.
        await page.FillAsync("#token", "not-the-token-at-all-000");
        await page.ClickAsync("#identify");
        await Assertions.Expect(page.Locator("#action-result")).ToHaveTextAsync("the admin token is wrong (status.adminToken)");

        await page.FillAsync("#token", Token);
        await page.ClickAsync("#identify");
        await Assertions.Expect(page.Locator("#action-result")).ToHaveTextAsync("identifying for 15 s");
        await Assertions.Expect(page.Locator("#led-red")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bblink\b"), new() { Timeout = 10_000 });

        // The relay check: every step passes with the right password, and allocate fails with a wrong one.
        await page.FillAsync("#probe-user", RunningRelay.User);
        await page.FillAsync("#probe-password", RunningRelay.Password);
        await page.ClickAsync("#probe");
        await Assertions.Expect(page.Locator("#action-result")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^PASS: "), new() { Timeout = 30_000 });
        Assert.Equal(7, await page.Locator("#probe-steps .PASS").CountAsync());
        await Assertions.Expect(page.Locator("#probe-steps")).ToContainTextAsync("received 20, lost 0");

        await page.FillAsync("#probe-password", "wrong password here");
        await page.ClickAsync("#probe");
        await Assertions.Expect(page.Locator("#action-result")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^FAIL"), new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("#probe-steps .FAIL")).ToContainTextAsync("401");

        Assert.Empty(errors);
        Assert.DoesNotContain(RunningRelay.Password, relay.Output);
        Assert.DoesNotContain(Token, relay.Output);
        relay.Signal("TERM");
        Assert.True(relay.WaitForExit(TimeSpan.FromSeconds(20)), relay.Output);
    }

    [Fact]
    public async Task The_self_check_panel_says_what_is_wrong_with_the_external_address_and_what_to_change()
    {
        const string Token = "admin-token-for-the-browser-test";
        // The box checks itself against its own listener: no NAT on loopback, so the public address it
        // finds is 127.0.0.1, and the configured externalAddress is wrong.
        int port = Ports.FreeUdpPort();
        int statusPort = Ports.FreeUdpPort();
        (int first, int last) = Ports.RelayRange();
        string config = Path.Combine(_directory, "self-check.json");
        File.WriteAllText(config, $$"""
            {
              "listeners": [{ "transport": "udp", "endpoint": "127.0.0.1:{{port}}" }],
              "relay": { "address": "127.0.0.1", "externalAddress": "198.51.100.9", "portRange": "{{first}}-{{last}}" },
              "auth": { "users": { "{{RunningRelay.User}}": "{{RunningRelay.Password}}" } },
              "status": { "endpoint": "127.0.0.1:{{statusPort}}", "adminToken": "{{Token}}" },
              "selfCheck": { "stunServers": ["127.0.0.1:{{port}}"], "timeoutSeconds": 1 },
              "stateDirectory": "{{Path.Combine(_directory, "state")}}"
            }
            """);
        using var relay = ExternalProcess.Start(AotBinary.Path, "run", "--config", config);
        Assert.True(relay.WaitForOutput("Status page on", TimeSpan.FromSeconds(20)), relay.Output);

        await using IBrowserContext context = await chromium.Browser.NewContextAsync();
        IPage page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        await page.GotoAsync($"http://127.0.0.1:{statusPort}/");

        await Assertions.Expect(page.Locator("#selfcheck")).ToContainTextAsync("D7-external-address-mismatch", new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("#health")).ToHaveTextAsync("Degraded");
        await Assertions.Expect(page.Locator("#led-amber")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bon\b"));
        await Assertions.Expect(page.Locator("#reasons")).ToContainTextAsync("D7-external-address-mismatch");
        await Assertions.Expect(page.Locator("#public-address")).ToHaveTextAsync("127.0.0.1");
        await Assertions.Expect(page.Locator("#advertised")).ToHaveTextAsync("198.51.100.9");
        await Assertions.Expect(page.Locator("#advice")).ToContainTextAsync("set relay.externalAddress to \"127.0.0.1\"");
        await Assertions.Expect(page.Locator("#checked")).ToContainTextAsync($"against 127.0.0.1:{port}");

        // After a fix, the admin need not wait for the next interval: the check runs at once.
        await page.FillAsync("#token", Token);
        await page.ClickAsync("#check-network");
        await Assertions.Expect(page.Locator("#action-result")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^D7-external-address-mismatch: no NAT"),
            new() { Timeout = 30_000 });
        await page.ScreenshotAsync(new PageScreenshotOptions
        {
            Path = Path.Combine(AppContext.BaseDirectory, "browser-interop", "status-page-self-check.png"),
            FullPage = true,
        });

        Assert.Empty(errors);
        relay.Signal("TERM");
        Assert.True(relay.WaitForExit(TimeSpan.FromSeconds(20)), relay.Output);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
