using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;

namespace EdgeRelay.Browser.Tests.Support;

/// <summary>
/// Serves the test's own pages (embedded resources of this assembly) over HTTP on 127.0.0.1, so that the
/// page has a real origin (http://127.0.0.1 is a secure context) and nothing comes from outside.
/// </summary>
public sealed class StaticPageServer : IDisposable
{
    private readonly HttpListener _listener;
    private readonly Task _loop;

    private StaticPageServer(HttpListener listener, Uri address)
    {
        _listener = listener;
        Address = address;
        _loop = Task.Run(ServeAsync);
    }

    public Uri Address { get; }

    public Uri PageAddress(string name) => new(Address, name);

    public static StaticPageServer Start()
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = FreeTcpPort();
            var listener = new HttpListener();
            var address = new Uri($"http://127.0.0.1:{port}/");
            listener.Prefixes.Add(address.ToString());
            try
            {
                listener.Start();
                return new StaticPageServer(listener, address);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                // Another process took the port between the probe and the bind: try another.
                ((IDisposable)listener).Dispose();
            }
        }
    }

    private static int FreeTcpPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            using HttpListenerResponse response = context.Response;
            byte[]? body = Page(context.Request.Url?.AbsolutePath.TrimStart('/') ?? "");
            if (body is null)
            {
                response.StatusCode = 404;
                continue;
            }
            response.ContentType = "text/html; charset=utf-8";
            response.Headers["Cache-Control"] = "no-store";
            response.ContentLength64 = body.Length;
            await response.OutputStream.WriteAsync(body);
        }
    }

    /// <summary>The comment by which a page asks for Pages/selected-pair.js, which both WebRTC pages use.</summary>
    private const string SelectedPairScript = "/* selected-pair.js: inlined by StaticPageServer.Page */";

    /// <summary>Pages/NAME.html of this project, with the shared scripts it names inlined, or null.</summary>
    public static byte[]? Page(string name) =>
        Resource(name) is { } page ? Encoding.UTF8.GetBytes(page.Replace(SelectedPairScript, Resource("selected-pair.js"), StringComparison.Ordinal)) : null;

    private static string? Resource(string name)
    {
        using Stream? stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Pages." + name);
        if (stream is null)
        {
            return null;
        }
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    public void Dispose()
    {
        // Close alone: .NET's managed HttpListener removes its endpoint in Stop and again in Close, and the
        // second removal binds the port anew to look it up, which fails ("Address already in use") when
        // another test has taken the port meanwhile.
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}
