using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeRelay.Tests.Shared;

/// <summary>
/// A raw TCP "HTTP server" behind <see cref="NginxServer"/>'s proxy_pass, for the failures nginx will
/// not make by itself from static files: a body cut short after a Content-Length that promised more
/// (<see cref="NginxMode.Truncated"/>), and a body that trickles after prompt headers
/// (<see cref="NginxMode.Stall"/>). nginx tells it which through <see cref="BehaviourHeader"/>.
/// </summary>
internal sealed class MisbehavingUpstream : IAsyncDisposable
{
    public const string BehaviourHeader = "X-EdgeRelay-Fixture-Behaviour";
    public const string Truncate = "truncate";
    public const string Stall = "stall";

    private readonly TcpListener _listener;
    private readonly string _documentDirectory;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private readonly Task _acceptLoop;

    private MisbehavingUpstream(string documentDirectory)
    {
        _documentDirectory = Path.GetFullPath(documentDirectory);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port { get; }

    public static MisbehavingUpstream Start(string documentDirectory) => new(documentDirectory);

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Task connection = ServeAsync(client);
            _connections.TryAdd(connection, 0);
            _ = connection.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                using var requestTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                requestTimeout.CancelAfter(TimeSpan.FromSeconds(30));
                string? head = await ReadHeadAsync(stream, requestTimeout.Token).ConfigureAwait(false);
                if (head is null)
                {
                    return;
                }

                string[] lines = head.Split("\r\n");
                string[] requestLine = lines[0].Split(' ');
                string behaviour = lines.Skip(1)
                    .Where(l => l.StartsWith(BehaviourHeader + ":", StringComparison.OrdinalIgnoreCase))
                    .Select(l => l[(BehaviourHeader.Length + 1)..].Trim())
                    .FirstOrDefault() ?? Truncate;
                string? path = requestLine.Length >= 2 ? DocumentPath(requestLine[1]) : null;
                if (path is null || !File.Exists(path))
                {
                    await stream.WriteAsync("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), _stopping.Token).ConfigureAwait(false);
                    return;
                }

                byte[] body = await File.ReadAllBytesAsync(path, _stopping.Token).ConfigureAwait(false);
                // Truncated promises at least one byte, so even an empty document arrives short.
                int promised = behaviour == Truncate ? Math.Max(body.Length, 1) : body.Length;
                string headers = string.Create(CultureInfo.InvariantCulture,
                    $"HTTP/1.1 200 OK\r\nContent-Type: {NginxServer.ContentTypeOf(path)}\r\nContent-Length: {promised}\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(headers), _stopping.Token).ConfigureAwait(false);
                if (behaviour == Stall)
                {
                    for (int i = 0; i < body.Length; i++)
                    {
                        await stream.WriteAsync(body.AsMemory(i, 1), _stopping.Token).ConfigureAwait(false);
                        await Task.Delay(TimeSpan.FromSeconds(1), _stopping.Token).ConfigureAwait(false);
                    }
                }
                else
                {
                    await stream.WriteAsync(body.AsMemory(0, body.Length / 2), _stopping.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // nginx (or the fixture) went away: nothing to tell anyone.
            }
        }
    }

    private static async Task<string?> ReadHeadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[32 * 1024];
        int length = 0;
        while (length < buffer.Length)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            length += read;
            int end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return Encoding.Latin1.GetString(buffer, 0, end);
            }
        }

        return null;
    }

    /// <summary>The file under the document directory that a request target names, or null if it names none.</summary>
    private string? DocumentPath(string target)
    {
        int query = target.IndexOf('?', StringComparison.Ordinal);
        string relative = Uri.UnescapeDataString(query >= 0 ? target[..query] : target).TrimStart('/');
        string full = Path.GetFullPath(Path.Combine(_documentDirectory, relative));
        return full.StartsWith(_documentDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal) ? full : null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _acceptLoop.ConfigureAwait(false);
        await Task.WhenAll(_connections.Keys).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
