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

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
