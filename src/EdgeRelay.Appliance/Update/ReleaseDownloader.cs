using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace EdgeRelay.Appliance.Update;

/// <summary>How a download ended: <see cref="Problem"/> null when the part file is the release; <see cref="Refused"/> when the
/// server's bytes are not the manifest's (too many, another hash), which no retry can mend.</summary>
public readonly record struct DownloadResult(string? Problem, bool Refused)
{
    public static DownloadResult Done => default;

    public static DownloadResult Retry(string problem) => new(problem, false);

    public static DownloadResult Refuse(string problem) => new(problem, true);
}

/// <summary>
/// Fetches a release's binary into its slot's part file, resuming a part that an earlier try (or a power
/// cut) left: a Range request for the rest (RFC 9110 §14.2), appended only when the server answers 206
/// from exactly that byte (§14.4, Content-Range), else started over. Never more bytes than the manifest
/// says, and the file is only called complete when its size and SHA-256 are the manifest's; a hash that
/// differs throws the part away, since resuming it could only repeat the mistake.
/// </summary>
public static class ReleaseDownloader
{
    private const int MaxRedirects = 5;

    /// <summary>
    /// How long an answer's headers, or the next bytes of its body, may take. The client has no overall timeout (a
    /// release over a slow uplink takes minutes), so a connection that stalls without closing would otherwise hold the
    /// update for good; given up, it resumes at the next try.
    /// </summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Done when the part file is the release, byte for byte; else what went wrong (the part stays when it can be resumed).</summary>
    /// <param name="authorize">Adds credentials to a request for that URL (the device token, to the cloud's own origin only).</param>
    /// <param name="idleTimeout">Default <see cref="IdleTimeout"/>.</param>
    public static async Task<DownloadResult> DownloadAsync(HttpClient http, Uri url, ReleaseManifest manifest, string partPath,
        Action<HttpRequestMessage> authorize, Action<long> progress, CancellationToken cancellationToken, TimeSpan? idleTimeout = null)
    {
        TimeSpan idle = idleTimeout ?? IdleTimeout;
        long have = File.Exists(partPath) ? new FileInfo(partPath).Length : 0;
        if (have > manifest.Size)
        {
            File.Delete(partPath);
            have = 0;
        }
        if (have < manifest.Size)
        {
            DownloadResult fetched;
            try
            {
                fetched = await FetchAsync(http, url, manifest, partPath, have, authorize, progress, idle, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException e)
            {
                // What arrived before the stall stays in the part file: the next try resumes from there.
                return DownloadResult.Retry($"the download stalled: {e.Message} (it resumes at the next try)");
            }
            if (fetched.Problem is not null)
            {
                return fetched;
            }
        }
        long length = new FileInfo(partPath).Length;
        if (length != manifest.Size)
        {
            return DownloadResult.Retry($"the download ended after {length} of {manifest.Size} bytes (it resumes from there at the next try)");
        }
        string sha256;
        await using (FileStream stream = File.OpenRead(partPath))
        {
            sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }
        if (sha256 != manifest.Sha256)
        {
            File.Delete(partPath);
            return DownloadResult.Refuse($"the binary's SHA-256 is {sha256}, not the manifest's {manifest.Sha256}");
        }
        return DownloadResult.Done;
    }

    /// <summary>
    /// A GET that follows up to five redirects, to https only (a signed file needs no TLS to be trusted, but the device
    /// token may travel with the request, and a downgrade of the channel is a sign of trouble). Null and why when refused.
    /// </summary>
    public static async Task<(HttpResponseMessage? Response, string? Problem)> SendAsync(HttpClient http, Uri url, Action<HttpRequestMessage> configure,
        CancellationToken cancellationToken, TimeSpan? idleTimeout = null)
    {
        for (int redirects = 0; ; redirects++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            configure(request);
            HttpResponseMessage response = await WithinIdleTimeout(token => http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token),
                idleTimeout ?? IdleTimeout, cancellationToken).ConfigureAwait(false);
            if ((int)response.StatusCode is not (301 or 302 or 303 or 307 or 308))
            {
                return (response, null);
            }
            Uri? next = response.Headers.Location is { } location ? new Uri(url, location) : null;
            response.Dispose();
            if (next is null || next.Scheme != Uri.UriSchemeHttps || redirects == MaxRedirects)
            {
                return (null, next is null ? $"a redirect without a Location from {url.GetLeftPart(UriPartial.Path)}"
                    : $"redirected to {next.GetLeftPart(UriPartial.Path)}: refused (only https, at most {MaxRedirects} redirects)");
            }
            url = next;
        }
    }

    /// <summary>One step of a transfer, given <see cref="IdleTimeout"/>: a <see cref="TimeoutException"/> when it takes longer.</summary>
    internal static async Task<T> WithinIdleTimeout<T>(Func<CancellationToken, Task<T>> step, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(timeout);
        try
        {
            return await step(idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"nothing arrived for {timeout.TotalSeconds:0.#} s");
        }
    }

    private static async Task<DownloadResult> FetchAsync(HttpClient http, Uri url, ReleaseManifest manifest, string partPath, long have,
        Action<HttpRequestMessage> authorize, Action<long> progress, TimeSpan idleTimeout, CancellationToken cancellationToken)
    {
        (HttpResponseMessage? answer, string? redirectProblem) = await SendAsync(http, url, request =>
        {
            authorize(request);
            if (have > 0)
            {
                request.Headers.Range = new RangeHeaderValue(have, null);
            }
        }, cancellationToken, idleTimeout).ConfigureAwait(false);
        if (answer is null)
        {
            return DownloadResult.Retry(redirectProblem!);
        }
        using HttpResponseMessage response = answer;
        int status = (int)response.StatusCode;
        bool append;
        if (response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange is { From: { } from } && from == have)
        {
            append = true;
        }
        else if (response.StatusCode == HttpStatusCode.OK)
        {
            // The server ignored the Range (it may): the whole file again.
            append = false;
        }
        else if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable || response.StatusCode == HttpStatusCode.PartialContent)
        {
            // A part the server does not recognise (another file behind the URL now): start over next time.
            File.Delete(partPath);
            return DownloadResult.Retry($"the server would not resume at byte {have} (HTTP {status}): the download starts over");
        }
        else
        {
            return DownloadResult.Retry($"HTTP {status} {response.ReasonPhrase} for {url.GetLeftPart(UriPartial.Path)}");
        }
        long offset = append ? have : 0;
        if (response.Content.Headers.ContentLength is { } length && offset + length > manifest.Size)
        {
            return DownloadResult.Refuse($"the server offers {offset + length} bytes, more than the manifest's {manifest.Size}");
        }
        await using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var options = new FileStreamOptions { Mode = append ? FileMode.Append : FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        await using var file = new FileStream(partPath, options);
        byte[] buffer = new byte[64 * 1024];
        long written = offset;
        int read;
        while ((read = await WithinIdleTimeout(token => body.ReadAsync(buffer, token).AsTask(), idleTimeout, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (written + read > manifest.Size)
            {
                file.Close();
                File.Delete(partPath);
                return DownloadResult.Refuse($"the server sent more than the manifest's {manifest.Size} bytes");
            }
            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            written += read;
            progress(written);
        }
        // What arrived stays across a power cut, so that the next try resumes rather than starts over.
        file.Flush(flushToDisk: true);
        return DownloadResult.Done;
    }
}
