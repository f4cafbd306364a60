namespace EdgeRelay.Tests.Shared;

/// <summary>
/// How <see cref="NginxServer"/> answers requests for documents (every path but /report, which keeps
/// recording so a test can see what a device reports while its cloud misbehaves).
/// </summary>
internal enum NginxMode
{
    /// <summary>Static files from the document directory, with nginx's own ETag, If-None-Match and 304.</summary>
    Serve,

    /// <summary>Every document request gets 500 Internal Server Error.</summary>
    Status500,

    /// <summary>
    /// The status line and headers (200, Content-Length of the whole file) come at once, then the body
    /// trickles at one byte a second: only an overall deadline ends it, a per-read idle timeout never
    /// fires. (nginx proxies to a small upstream of the fixture's own that does the trickling: nginx's
    /// limit_rate would hold back the headers as well, see <see cref="Trickle"/>.)
    /// </summary>
    Stall,

    /// <summary>
    /// nginx's limit_rate of one byte a second on the static files. nginx counts the headers too, so
    /// the status line itself arrives a byte a second: the client never sees a status.
    /// </summary>
    Trickle,

    /// <summary>
    /// 200 with a Content-Length of the whole file, half the body, then the connection closes. A client
    /// reading the body sees the stream end early (.NET: HttpIOException, an IOException, "The response
    /// ended prematurely").
    /// </summary>
    Truncated,

    /// <summary>302 to the same path on plain http:// (the fixture's plain HTTP port, which would serve it).</summary>
    RedirectToHttp,

    /// <summary>302 to https://same host and port/moved/PATH, which serves the same file: a legitimate redirect.</summary>
    RedirectToHttps,
}
