using Microsoft.Playwright;

namespace EdgeRelay.Browser.Tests.Support;

/// <summary>
/// Headless Chromium, Debian's package (installed by scripts/test.sh), driven by Playwright for .NET. The
/// Playwright NuGet package carries its driver and its own node, so nothing is downloaded: Playwright's
/// browser installer is never run. One browser for a test class; each test gets a fresh context.
/// A missing browser fails the tests rather than skipping them.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    /// <summary>
    /// No sandbox (tests run as root in CI), no GPU, and nothing that would reach for the network on its
    /// own (component updates, sync, first-run pings).
    /// <para>
    /// WebRTC: a page without camera/microphone permission gets no adapter enumeration, so Chromium
    /// gathers on the "any" address (0.0.0.0) of its networks, and it counts no network at all when the
    /// machine has only loopback (a sandbox, <c>unshare -n</c>): then nothing is gathered, not even relayed
    /// candidates, and no error is reported. <c>--allow-loopback-in-peer-connection</c> makes loopback a
    /// network, so the test passes on a loopback-only machine as on one with an interface. With
    /// iceTransportPolicy "relay" there are no host candidates, hence no mDNS (.local) names to resolve,
    /// and the relayed candidates hide their base (raddr 0.0.0.0): no field trial is needed.
    /// </para>
    /// </summary>
    public static readonly IReadOnlyList<string> Arguments =
    [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--ignore-certificate-errors",
        "--allow-loopback-in-peer-connection",
    ];

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("Chromium is not running");

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(ExecutablePath),
            $"{ExecutablePath} is missing: install Debian's chromium package (scripts/test.sh does)");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = Arguments,
            Timeout = 60_000,
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }
        _playwright?.Dispose();
    }
}
