using System.Runtime.Versioning;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using EdgeRelay.Tests.Probe;
using Microsoft.Playwright;

namespace EdgeRelay.Browser.Tests.Support;

/// <summary>
/// Headless Chromium (Debian's, with <see cref="Chromium.Arguments"/>) inside a network namespace of a
/// <see cref="NatLab"/>, with one page, still driven by Playwright. Playwright starts the browser itself and talks
/// to it over a pipe (file descriptors 3 and 4, <c>--remote-debugging-pipe</c>), so the executable it is given
/// is a small launcher that runs <c>ip netns exec SPACE /usr/bin/chromium</c>: ip-netns(8) enters the namespace
/// and executes the program in place, so the pipe and the process Playwright watches stay the browser's, and
/// every process Chromium starts (its network service among them) is born inside the namespace. Pages are
/// given with SetContentAsync: the browser cannot reach the test's loopback from there, nor needs to.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ChromiumInNamespace : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IBrowser _browser;
    private readonly StringBuilder _console = new();

    private ChromiumInNamespace(string space, IBrowser browser, IPage page)
    {
        Space = space;
        _browser = browser;
        Page = page;
        page.Console += (_, message) => Append($"console.{message.Type}: {message.Text}");
        page.PageError += (_, error) => Append($"page error: {error}");
    }

    public string Space { get; }

    public IPage Page { get; }

    /// <summary>What the page printed to its console and the errors it threw.</summary>
    public string Console
    {
        get
        {
            lock (_console)
            {
                return _console.ToString();
            }
        }
    }

    public static async Task<ChromiumInNamespace> LaunchAsync(IPlaywright playwright, string space, string directory, string pageName)
    {
        Assert.True(File.Exists(Chromium.ExecutablePath),
            $"{Chromium.ExecutablePath} is missing: install Debian's chromium package (scripts/test.sh does)");
        string launcher = Path.Combine(directory, $"chromium-in-{space}.sh");
        string command = string.Join(' ', NatLab.InNamespace(space).Append(Chromium.ExecutablePath).Select(Quote));
        File.WriteAllText(launcher, $"""
            #!/bin/sh
            # Chromium inside the network namespace {space} (tests/EdgeRelay.Browser.Tests, ChromiumInNamespace).
            exec {command} "$@"

            """);
        File.SetUnixFileMode(launcher, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = launcher,
            Headless = true,
            Args = Chromium.Arguments,
            Timeout = 60_000,
        });
        try
        {
            IPage page = await browser.NewPageAsync();
            var chromium = new ChromiumInNamespace(space, browser, page);
            byte[] html = StaticPageServer.Page(pageName) ?? throw new InvalidOperationException($"Pages/{pageName} is not a resource of this assembly");
            await page.SetContentAsync(Encoding.UTF8.GetString(html));
            return chromium;
        }
        catch
        {
            await browser.CloseAsync();
            throw;
        }
    }

    /// <summary>
    /// Calls <c>window.edgeRelay.STEP(argument)</c> and reads its result. <paramref name="limit"/> bounds a
    /// step that hangs; the page's own timeouts answer first and say what they waited for.
    /// </summary>
    public async Task<T> Step<T>(string step, object? argument, TimeSpan limit)
    {
        JsonElement result = await Page.EvaluateAsync<JsonElement>($"argument => window.edgeRelay.{step}(argument)", argument)
            .WaitAsync(limit);
        return result.Deserialize<T>(Json) ?? throw new InvalidOperationException($"{step} returned nothing");
    }

    private static string Quote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private void Append(string line)
    {
        lock (_console)
        {
            _console.AppendLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Page.EvaluateAsync("() => window.edgeRelay && window.edgeRelay.close()").WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is PlaywrightException or TimeoutException)
        {
            // A page that cannot answer any more must not hide the failure that brought us here.
        }
        try
        {
            await _browser.CloseAsync();
        }
        catch (PlaywrightException)
        {
            // Gone already (it crashed, or its driver did): the driver's end kills what is left of it.
        }
    }
}
