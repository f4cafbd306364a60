using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// A release host in memory, for what nginx will not do on request (a body without a length, a
/// connection that drops at a chosen byte) and for the many rounds of the power-cut test. Serves
/// <see cref="Files"/> by path, with Range (bytes=N-) answered 206 as nginx answers it.
/// </summary>
internal sealed class InMemoryReleaseHost : HttpMessageHandler
{
    public ConcurrentDictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>When set, a body ends with an IOException after this many bytes of it (a dropped connection).</summary>
    public long? DropAfter { get; set; }

    /// <summary>Whether a Content-Length goes with the body (false: chunked, the length unknown until the end).</summary>
    public bool SendLength { get; set; } = true;

    /// <summary>Answer a Range request with the whole file (200), as a server may.</summary>
    public bool IgnoreRange { get; set; }

    /// <summary>Answer a Range request with a 206 that starts this many bytes before the byte asked for.</summary>
    public int RangeSkew { get; set; }

    /// <summary>Paths answered 302 with this Location (null: none at all), before any file.</summary>
    public ConcurrentDictionary<string, string?> Redirects { get; } = new(StringComparer.Ordinal);

    /// <summary>The Range header of every request, in order (null: none).</summary>
    public ConcurrentQueue<string?> Ranges { get; } = new();

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Ranges.Enqueue(request.Headers.Range?.ToString());
        if (Redirects.TryGetValue(request.RequestUri!.AbsolutePath, out string? location))
        {
            var redirect = new HttpResponseMessage(HttpStatusCode.Found) { RequestMessage = request };
            if (location is not null)
            {
                redirect.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
            }
            return Task.FromResult(redirect);
        }
        if (!Files.TryGetValue(request.RequestUri!.AbsolutePath, out byte[]? file))
        {
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound) { RequestMessage = request });
        }
        long from = 0;
        var response = new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request };
        if (!IgnoreRange && request.Headers.Range is { Ranges.Count: 1 } range && range.Ranges.First() is { From: { } start, To: null })
        {
            if (start >= file.Length)
            {
                response.StatusCode = HttpStatusCode.RequestedRangeNotSatisfiable;
                response.Content = new ByteArrayContent([]);
                response.Content.Headers.ContentRange = new ContentRangeHeaderValue(file.Length);
                return Task.FromResult(response);
            }
            from = Math.Max(0, start - RangeSkew);
            response.StatusCode = HttpStatusCode.PartialContent;
        }
        byte[] body = file[(int)from..];
        response.Content = new StreamContent(new BodyStream(body, DropAfter, SendLength));
        if (response.StatusCode == HttpStatusCode.PartialContent)
        {
            response.Content.Headers.ContentRange = new ContentRangeHeaderValue(from, file.Length - 1, file.Length);
        }
        return Task.FromResult(response);
    }

    /// <summary>A body that is seekable (so has a length) only when a length is to be sent, and may drop.</summary>
    private sealed class BodyStream(byte[] body, long? dropAfter, bool seekable) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => seekable;
        public override bool CanWrite => false;
        public override long Length => seekable ? body.Length : throw new NotSupportedException();

        public override long Position
        {
            get => _position;
            set => _position = seekable ? value : throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            long end = Math.Min(body.Length, dropAfter ?? long.MaxValue);
            if (_position >= end)
            {
                if (end < body.Length)
                {
                    throw new IOException("the connection dropped (InMemoryReleaseHost.DropAfter)");
                }
                return 0;
            }
            int n = (int)Math.Min(count, end - _position);
            Array.Copy(body, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => seekable
            ? _position = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => _position + offset, _ => body.Length + offset }
            : throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
