using System.Globalization;
using System.Net.Http.Headers;
using EdgeRelay.Appliance.Update;
using EdgeRelay.Tests.Shared;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// The binary's download against a real nginx serving static files (with Range, as any static host does)
/// and failing the ways a host fails: what ends up in the part file, what goes over the wire (nginx's
/// access log: status and body bytes of each request), and what the downloader says.
/// </summary>
public sealed class ReleaseDownloaderTests : IAsyncLifetime, IDisposable
{
    private const string BinaryPath = "releases/1.5.0/edgerelay-1.5.0-linux-arm64";
    private const int Size = 1_234_567;

    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-download-").FullName;
    private readonly byte[] _binary = ReleaseSigner.Binary(Size, 42);
    private readonly List<long> _progress = [];
    private NginxServer _host = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _host = await NginxServer.StartAsync();
        _host.WriteDocument(BinaryPath, _binary);
        _http = new HttpClient(_host.CertificateAuthority.CreateTrustingHandler());
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Part => Path.Combine(_root, "edgerelay.part");

    private ReleaseManifest Manifest => ReleaseSigner.ManifestOf(_binary, "1.5.0");

    private Uri Url => _host.UrlOf(BinaryPath);

    private Task<DownloadResult> DownloadAsync(ReleaseManifest? manifest = null, Uri? url = null, Action<HttpRequestMessage>? authorize = null) =>
        ReleaseDownloader.DownloadAsync(_http, url ?? Url, manifest ?? Manifest, Part, authorize ?? (_ => { }), b => _progress.Add(b), CancellationToken.None);

    /// <summary>nginx's combined log line of a request to <paramref name="path"/>: status and body bytes sent (null: any).</summary>
    private static string Line(string path, int status, long? bytes) =>
        string.Create(CultureInfo.InvariantCulture, $"\"GET /{path} HTTP/1.1\" {status} {bytes}{(bytes is null ? "" : " ")}");

    private async Task AssertLoggedAsync(string path, int status, long? bytes = null) =>
        Assert.True(await _host.WaitForAccessLogAsync(Line(path, status, bytes), TimeSpan.FromSeconds(10)),
            $"expected {Line(path, status, bytes)} in the access log:\n{_host.AccessLog()}");

    private int Requests(string path) => _host.AccessLog().Split('\n').Count(l => l.Contains($"\"GET /{path} ", StringComparison.Ordinal));

    [Fact]
    public async Task A_whole_download_leaves_the_release_byte_for_byte_in_the_part_file()
    {
        DownloadOutcome.AssertDone(await DownloadAsync());

        Assert.Equal(_binary, File.ReadAllBytes(Part));
        await AssertLoggedAsync(BinaryPath, 200, Size);
        Assert.Equal(Size, _progress[^1]);
        Assert.Equal(_progress.Order(), _progress);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(65_536)]
    [InlineData(Size / 2)]
    [InlineData(Size - 1)]
    public async Task A_part_file_is_resumed_with_a_Range_request_for_the_rest_only(int have)
    {
        File.WriteAllBytes(Part, _binary[..have]);

        DownloadOutcome.AssertDone(await DownloadAsync());

        Assert.Equal(_binary, File.ReadAllBytes(Part));
        // 206 and only the missing bytes: nothing that was there was fetched again.
        await AssertLoggedAsync(BinaryPath, 206, Size - have);
        Assert.Equal(1, Requests(BinaryPath));
        Assert.True(_progress[0] > have);
        Assert.Equal(Size, _progress[^1]);
    }

    [Fact]
    public async Task A_complete_part_file_is_checked_without_any_request()
    {
        File.WriteAllBytes(Part, _binary);

        DownloadOutcome.AssertDone(await DownloadAsync());

        Assert.Equal(_binary, File.ReadAllBytes(Part));
        Assert.Equal(0, Requests(BinaryPath));
    }

    [Fact]
    public async Task A_part_file_longer_than_the_release_is_thrown_away_and_the_release_fetched_whole()
    {
        File.WriteAllBytes(Part, ReleaseSigner.Binary(Size + 17, 1));

        DownloadOutcome.AssertDone(await DownloadAsync());

        Assert.Equal(_binary, File.ReadAllBytes(Part));
        await AssertLoggedAsync(BinaryPath, 200, Size);
        Assert.Equal(1, Requests(BinaryPath));
    }

    [Fact]
    public async Task A_binary_whose_hash_is_not_the_manifests_is_refused_and_its_part_deleted()
    {
        ReleaseManifest other = Manifest with { Sha256 = ReleaseSigner.Sha256Of(ReleaseSigner.Binary(Size, 43)) };

        DownloadResult result = await DownloadAsync(other);

        DownloadOutcome.AssertRefused(result, $"the binary's SHA-256 is {ReleaseSigner.Sha256Of(_binary)}, not the manifest's {other.Sha256}");
        Assert.False(File.Exists(Part));
    }

    [Fact]
    public async Task A_complete_part_file_with_other_bytes_is_refused_and_deleted_and_the_next_try_fetches_it_whole()
    {
        byte[] damaged = (byte[])_binary.Clone();
        damaged[Size / 3] ^= 0x40;
        File.WriteAllBytes(Part, damaged);

        DownloadOutcome.AssertRefused(await DownloadAsync(), "the binary's SHA-256 is ");

        Assert.False(File.Exists(Part));
        Assert.Equal(0, Requests(BinaryPath));

        DownloadOutcome.AssertDone(await DownloadAsync());
        Assert.Equal(_binary, File.ReadAllBytes(Part));
    }

    [Fact]
    public async Task A_resumed_part_whose_first_bytes_are_not_the_releases_fails_the_hash_and_is_deleted()
    {
        byte[] start = ReleaseSigner.Binary(Size / 2, 99); // another file's first half
        File.WriteAllBytes(Part, start);

        DownloadOutcome.AssertRefused(await DownloadAsync(), "SHA-256");

        Assert.False(File.Exists(Part));
        await AssertLoggedAsync(BinaryPath, 206, Size - Size / 2);
    }

    [Fact]
    public async Task A_server_offering_more_bytes_than_the_manifest_says_is_refused_before_anything_is_written()
    {
        _host.WriteDocument(BinaryPath, [.. _binary, .. ReleaseSigner.Binary(1000, 7)]);

        DownloadResult result = await DownloadAsync();

        Assert.Equal(DownloadResult.Refuse($"the server offers {Size + 1000} bytes, more than the manifest's {Size}"), result);
        Assert.False(File.Exists(Part));
    }

    [Fact]
    public async Task A_server_offering_more_bytes_than_the_manifest_on_a_resume_is_refused_and_the_part_not_grown()
    {
        _host.WriteDocument(BinaryPath, [.. _binary, .. ReleaseSigner.Binary(1000, 7)]);
        File.WriteAllBytes(Part, _binary[..1000]);

        DownloadOutcome.AssertRefused(await DownloadAsync(), "more than the manifest's");
        Assert.True(!File.Exists(Part) || new FileInfo(Part).Length <= Size);
    }

    [Fact]
    public async Task A_truncated_response_keeps_what_arrived_and_the_next_call_fetches_only_the_rest()
    {
        await _host.SetModeAsync(NginxMode.Truncated);

        // The body ends before its Content-Length: HttpClient says so (HttpIOException, "ended prematurely").
        await Assert.ThrowsAnyAsync<IOException>(() => DownloadAsync());

        long have = new FileInfo(Part).Length;
        Assert.InRange(have, 1, Size - 1);
        Assert.Equal(_binary[..(int)have], File.ReadAllBytes(Part));

        await _host.SetModeAsync(NginxMode.Serve);
        DownloadOutcome.AssertDone(await DownloadAsync());

        Assert.Equal(_binary, File.ReadAllBytes(Part));
        await AssertLoggedAsync(BinaryPath, 206, Size - have);
    }

    [Fact]
    public async Task A_redirect_to_plain_http_is_refused_and_nothing_is_fetched_from_there()
    {
        await _host.SetModeAsync(NginxMode.RedirectToHttp);

        DownloadResult result = await DownloadAsync();

        // Not followed; the redirect is the host's (it may be mended), not the release's: another try later.
        DownloadOutcome.AssertRetry(result, $"redirected to http://127.0.0.1:{_host.HttpPort}/{BinaryPath}: refused (only https");
        Assert.False(File.Exists(Part));
        await AssertLoggedAsync(BinaryPath, 302);
        Assert.Equal(1, Requests(BinaryPath));
    }

    [Fact]
    public async Task A_redirect_to_plain_http_leaves_a_part_file_as_it_was()
    {
        File.WriteAllBytes(Part, _binary[..5000]);
        await _host.SetModeAsync(NginxMode.RedirectToHttp);

        DownloadOutcome.AssertRetry(await DownloadAsync(), "refused (only https");

        Assert.Equal(_binary[..5000], File.ReadAllBytes(Part));
    }

    [Fact]
    public async Task An_https_redirect_is_followed_and_a_resume_goes_on_through_it()
    {
        File.WriteAllBytes(Part, _binary[..200_000]);
        await _host.SetModeAsync(NginxMode.RedirectToHttps);

        DownloadOutcome.AssertDone(await DownloadAsync());

        Assert.Equal(_binary, File.ReadAllBytes(Part));
        await AssertLoggedAsync(BinaryPath, 302);
        await AssertLoggedAsync("moved/" + BinaryPath, 206, Size - 200_000);
    }

    [Fact]
    public async Task An_error_status_says_what_it_was_and_leaves_the_part_file()
    {
        File.WriteAllBytes(Part, _binary[..5000]);

        Assert.Equal(DownloadResult.Retry($"HTTP 404 Not Found for {_host.UrlOf("releases/missing")}"), await DownloadAsync(url: _host.UrlOf("releases/missing")));
        Assert.Equal(5000, new FileInfo(Part).Length);

        await _host.SetModeAsync(NginxMode.Status500);
        DownloadOutcome.AssertRetry(await DownloadAsync(), "HTTP 500");
        Assert.Equal(5000, new FileInfo(Part).Length);
    }

    [Fact]
    public async Task A_part_the_server_cannot_resume_is_thrown_away()
    {
        // The manifest says 2,000,000 bytes; the host has a shorter file; the part is past its end: 416.
        ReleaseManifest longer = Manifest with { Size = 2_000_000 };
        File.WriteAllBytes(Part, ReleaseSigner.Binary(Size + 10, 3));

        DownloadResult result = await DownloadAsync(longer);

        Assert.Equal(DownloadResult.Retry($"the server would not resume at byte {Size + 10} (HTTP 416): the download starts over"), result);
        Assert.False(File.Exists(Part));
    }

    [Fact]
    public async Task The_credentials_callback_is_asked_for_every_request()
    {
        await _host.SetDeviceTokenAsync("device-token-0123456789");

        Assert.Equal(DownloadResult.Retry($"HTTP 401 Unauthorized for {Url}"), await DownloadAsync());

        var asked = new List<Uri>();
        DownloadOutcome.AssertDone(await DownloadAsync(authorize: request =>
        {
            asked.Add(request.RequestUri!);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "device-token-0123456789");
        }));
        Assert.Equal([Url], asked);
        Assert.Equal(_binary, File.ReadAllBytes(Part));
    }

    [Fact]
    public async Task A_host_that_is_down_is_an_exception_for_the_caller_and_the_part_stays()
    {
        File.WriteAllBytes(Part, _binary[..5000]);
        await _host.StopAsync();

        await Assert.ThrowsAsync<HttpRequestException>(() => DownloadAsync());

        Assert.Equal(_binary[..5000], File.ReadAllBytes(Part));
    }
}

/// <summary>The downloader against a host in memory: what nginx does not do (no length, a 200 or a wrong 206 to a Range).</summary>
public sealed class ReleaseDownloaderProtocolTests : IDisposable
{
    private const int Size = 300_000;
    private static readonly Uri Url = new("https://releases.example.com/edgerelay-1.5.0");

    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-download-").FullName;
    private readonly byte[] _binary = ReleaseSigner.Binary(Size, 5);
    private readonly InMemoryReleaseHost _server = new();
    private readonly HttpClient _http;

    public ReleaseDownloaderProtocolTests()
    {
        _server.Files[Url.AbsolutePath] = _binary;
        _http = new HttpClient(_server);
    }

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private string Part => Path.Combine(_root, "edgerelay.part");

    private Task<DownloadResult> DownloadAsync(ReleaseManifest? manifest = null) =>
        ReleaseDownloader.DownloadAsync(_http, Url, manifest ?? ReleaseSigner.ManifestOf(_binary, "1.5.0"), Part, _ => { }, _ => { }, CancellationToken.None);

    [Fact]
    public async Task A_body_without_a_length_that_runs_past_the_manifests_size_is_cut_off_refused_and_deleted()
    {
        _server.SendLength = false;
        ReleaseManifest shorter = ReleaseSigner.ManifestOf(_binary[..100_000], "1.5.0");

        DownloadResult result = await DownloadAsync(shorter);

        Assert.Equal(DownloadResult.Refuse("the server sent more than the manifest's 100000 bytes"), result);
        Assert.False(File.Exists(Part));
    }

    [Fact]
    public async Task A_body_without_a_length_is_fine_when_it_is_the_release()
    {
        _server.SendLength = false;

        DownloadOutcome.AssertDone(await DownloadAsync());
        Assert.Equal(_binary, File.ReadAllBytes(Part));
    }

    [Fact]
    public async Task A_host_that_ignores_Range_sends_the_whole_file_which_replaces_the_part()
    {
        _server.IgnoreRange = true;
        File.WriteAllBytes(Part, _binary[..1000]);

        DownloadOutcome.AssertDone(await DownloadAsync());

        Assert.Equal(_binary, File.ReadAllBytes(Part));
        Assert.Equal(["bytes=1000-"], _server.Ranges);
    }

    [Fact]
    public async Task A_206_from_another_byte_than_asked_is_not_appended()
    {
        _server.RangeSkew = 10;
        File.WriteAllBytes(Part, _binary[..1000]);

        DownloadResult result = await DownloadAsync();

        Assert.Equal(DownloadResult.Retry("the server would not resume at byte 1000 (HTTP 206): the download starts over"), result);
        Assert.False(File.Exists(Part));
        _server.RangeSkew = 0;
        DownloadOutcome.AssertDone(await DownloadAsync());
        Assert.Equal(_binary, File.ReadAllBytes(Part));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public async Task Up_to_five_https_redirects_are_followed_relative_or_absolute(int hops)
    {
        // /hop-1 -> /hop-2 (relative) -> https://cdn.example.net/hop-3 (absolute) ... -> the binary
        string previous = Url.AbsolutePath;
        _server.Files.TryRemove(Url.AbsolutePath, out _);
        for (int hop = 1; hop <= hops; hop++)
        {
            string location = hop % 2 == 0 ? $"https://cdn.example.net/hop-{hop}" : $"/hop-{hop}";
            _server.Redirects[previous] = location;
            previous = new Uri(Url, location).AbsolutePath;
        }
        _server.Files[previous] = _binary;

        DownloadOutcome.AssertDone(await DownloadAsync());
        Assert.Equal(_binary, File.ReadAllBytes(Part));
    }

    [Fact]
    public async Task A_sixth_redirect_is_not_followed()
    {
        _server.Files.TryRemove(Url.AbsolutePath, out _);
        _server.Redirects[Url.AbsolutePath] = "/hop-1";
        for (int hop = 1; hop <= 6; hop++)
        {
            _server.Redirects[$"/hop-{hop}"] = $"/hop-{hop + 1}";
        }

        DownloadOutcome.AssertRetry(await DownloadAsync(), "redirected to https://releases.example.com/hop-6: refused (only https, at most 5 redirects)");
        Assert.Equal(6, _server.Ranges.Count);
        Assert.False(File.Exists(Part));
    }

    [Fact]
    public async Task A_redirect_without_a_location_is_said_so()
    {
        _server.Redirects[Url.AbsolutePath] = null;

        DownloadOutcome.AssertRetry(await DownloadAsync(), "a redirect without a Location");
    }

    [Fact]
    public async Task A_connection_that_drops_keeps_every_byte_that_arrived_and_each_try_goes_on_from_there()
    {
        var tries = 0;
        for (long drop = 50_000; ; drop += 50_000, tries++)
        {
            _server.DropAfter = drop;
            try
            {
                if (await DownloadAsync() == DownloadResult.Done)
                {
                    break;
                }
            }
            catch (IOException)
            {
                // The connection dropped: a later try resumes.
            }
            Assert.True(File.ReadAllBytes(Part).AsSpan().SequenceEqual(_binary.AsSpan(0, (int)new FileInfo(Part).Length)));
            Assert.True(tries < 20);
        }

        Assert.Equal(_binary, File.ReadAllBytes(Part));
        // Every try after the first asked for the rest only.
        Assert.Null(_server.Ranges.First());
        Assert.All(_server.Ranges.Skip(1), range => Assert.StartsWith("bytes=", range, StringComparison.Ordinal));
    }
}

/// <summary>What a download's result must be: done, refused (the release's fault), or to be retried (the way's).</summary>
internal static class DownloadOutcome
{
    public static void AssertDone(DownloadResult result) =>
        Assert.True(result == DownloadResult.Done, $"expected the release, got {(result.Refused ? "refused" : "retry")}: {result.Problem}");

    public static void AssertRefused(DownloadResult result, string problem)
    {
        Assert.True(result.Refused, $"expected a refusal, got {result}");
        Assert.Contains(problem, result.Problem, StringComparison.Ordinal);
    }

    public static void AssertRetry(DownloadResult result, string problem)
    {
        Assert.False(result.Refused, $"expected a retry, got {result}");
        Assert.Contains(problem, result.Problem, StringComparison.Ordinal);
    }
}
