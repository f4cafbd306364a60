using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace EdgeRelay.Appliance.Update;

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

    /// <summary>Null when the part file is the release, byte for byte; else what went wrong (the part stays when it can be resumed).</summary>
    /// <param name="authorize">Adds credentials to a request for that URL (the device token, to the cloud's own origin only).</param>
    public static async Task<string?> DownloadAsync(HttpClient http, Uri url, ReleaseManifest manifest, string partPath,
        Action<HttpRequestMessage> authorize, Action<long> progress, CancellationToken cancellationToken)
    {
        long have = File.Exists(partPath) ? new FileInfo(partPath).Length : 0;
        if (have > manifest.Size)
        {
            File.Delete(partPath);
            have = 0;
        }
        if (have < manifest.Size)
        {
            string? problem = await FetchAsync(http, url, manifest, partPath, have, authorize, progress, cancellationToken).ConfigureAwait(false);
            if (problem is not null)
            {
                return problem;
            }
        }
        long length = new FileInfo(partPath).Length;
        if (length != manifest.Size)
        {
            return $"the download ended after {length} of {manifest.Size} bytes (it resumes from there at the next try)";
        }
        string sha256;
        await using (FileStream stream = File.OpenRead(partPath))
        {
            sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }
        if (sha256 != manifest.Sha256)
        {
            File.Delete(partPath);
            return $"the binary's SHA-256 is {sha256}, not the manifest's {manifest.Sha256}: refused";
        }
        return null;
    }

    private static async Task<string?> FetchAsync(HttpClient http, Uri url, ReleaseManifest manifest, string partPath, long have,
        Action<HttpRequestMessage> authorize, Action<long> progress, CancellationToken cancellationToken)
    {
        for (int redirects = 0; ; redirects++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            authorize(request);
            if (have > 0)
            {
                request.Headers.Range = new RangeHeaderValue(have, null);
            }
            using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (status is 301 or 302 or 303 or 307 or 308)
            {
                Uri? next = response.Headers.Location is { } location ? new Uri(url, location) : null;
                if (next is null || next.Scheme != Uri.UriSchemeHttps || redirects == MaxRedirects)
                {
                    return next is null ? "a redirect without a Location" : $"redirected to {next.GetLeftPart(UriPartial.Path)}: refused (only https, at most {MaxRedirects} redirects)";
                }
                url = next;
                continue;
            }
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
                return $"the server would not resume at byte {have} (HTTP {status}): the download starts over";
            }
            else
            {
                return $"HTTP {status} {response.ReasonPhrase} for {url.GetLeftPart(UriPartial.Path)}";
            }
            long offset = append ? have : 0;
            if (response.Content.Headers.ContentLength is { } length && offset + length > manifest.Size)
            {
                return $"the server offers {offset + length} bytes, more than the manifest's {manifest.Size}: refused";
            }
            await using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var options = new FileStreamOptions { Mode = append ? FileMode.Append : FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
            await using var file = new FileStream(partPath, options);
            byte[] buffer = new byte[64 * 1024];
            long written = offset;
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (written + read > manifest.Size)
                {
                    file.Close();
                    File.Delete(partPath);
                    return $"the server sent more than the manifest's {manifest.Size} bytes: refused";
                }
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                written += read;
                progress(written);
            }
            // What arrived stays across a power cut, so that the next try resumes rather than starts over.
            file.Flush(flushToDisk: true);
            return null;
        }
    }
}
