using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// A host that stops sending without closing the connection (a dead uplink, a proxy that hangs): the client has no
/// overall timeout, so only the downloader's idle timeout ends the try, and what arrived is kept for the resume.
/// The host is a real socket on loopback that answers by hand.
/// </summary>
public sealed class StalledDownloadTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-stall-").FullName;
    private readonly byte[] _binary = ReleaseSigner.Binary(200_000, 9);
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public StalledDownloadTests() => _listener.Start();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/edgerelay-1.5.0");

    private string Part => Path.Combine(_root, "edgerelay.part");

    /// <summary>Accepts one connection, reads the request, sends <paramref name="answer"/>, then holds the connection open and silent.</summary>
    private Task ServeAndStallAsync(byte[] answer) => Task.Run(async () =>
    {
        using TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
        NetworkStream stream = client.GetStream();
        var request = new byte[4096];
        int length = 0;
        while (!Encoding.ASCII.GetString(request, 0, length).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            length += await stream.ReadAsync(request.AsMemory(length), _stop.Token);
        }
        await stream.WriteAsync(answer, _stop.Token);
        await Task.Delay(Timeout.Infinite, _stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
    });

    [Fact]
    public async Task A_body_that_stops_arriving_is_given_up_after_the_idle_timeout_and_what_came_is_kept_for_the_resume()
    {
        byte[] headers = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {_binary.Length}\r\n\r\n");
        Task server = ServeAndStallAsync([.. headers, .. _binary.AsSpan(0, 50_000)]);
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };

        DownloadResult result = await ReleaseDownloader.DownloadAsync(http, Url, ReleaseSigner.ManifestOf(_binary, "1.5.0"), Part, _ => { }, _ => { },
            CancellationToken.None, idleTimeout: TimeSpan.FromSeconds(1));

        Assert.Equal(DownloadResult.Retry("the download stalled: nothing arrived for 1 s (it resumes at the next try)"), result);
        Assert.Equal(_binary[..50_000], File.ReadAllBytes(Part));
        Assert.False(server.IsFaulted, server.Exception?.ToString());
    }

    [Fact]
    public async Task An_answer_whose_headers_never_come_is_given_up_after_the_idle_timeout()
    {
        Task server = ServeAndStallAsync([]);
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };

        DownloadResult result = await ReleaseDownloader.DownloadAsync(http, Url, ReleaseSigner.ManifestOf(_binary, "1.5.0"), Part, _ => { }, _ => { },
            CancellationToken.None, idleTimeout: TimeSpan.FromSeconds(1));

        Assert.Equal(DownloadResult.Retry("the download stalled: nothing arrived for 1 s (it resumes at the next try)"), result);
        Assert.False(server.IsFaulted, server.Exception?.ToString());
    }
}
