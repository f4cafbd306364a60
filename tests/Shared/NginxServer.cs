using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace EdgeRelay.Tests.Shared;

/// <summary>
/// "The cloud" for the cloud-configuration tests: a real nginx (Debian 12's, installed by
/// scripts/test.sh) on 127.0.0.1 with TLS from a <see cref="TestCertificateAuthority"/>, serving the
/// files a test writes into <see cref="DocumentDirectory"/>, recording <c>POST /report</c>, and failing
/// on request the ways a real static host fails (<see cref="NginxMode"/>, <see cref="StopAsync"/>).
/// Everything it writes lives in one private temporary directory, deleted on dispose.
/// </summary>
/// <example>
/// <code>
/// await using NginxServer cloud = await NginxServer.StartAsync(new() { DeviceToken = "t0ken" });
/// cloud.WriteDocument("config.json", signedDocument);
/// using var client = new HttpClient(cloud.CertificateAuthority.CreateTrustingHandler());
/// await cloud.SetModeAsync(NginxMode.Truncated);   // returns once nginx answers the new way
/// IReadOnlyList&lt;string&gt; reports = await cloud.WaitForReportBodiesAsync(1, TimeSpan.FromSeconds(10));
/// </code>
/// </example>
internal sealed partial class NginxServer : IAsyncDisposable
{
    private readonly int? _releaseBytesPerSecond;

    public const string NginxPath = "/usr/sbin/nginx";
    internal const string PidFileName = "nginx.pid";
    private const string ConfigFileName = "nginx.conf";
    private const string ErrorLogFileName = "logs/error.log";
    private const string ReportLogFileName = "logs/report.log";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReloadTimeout = TimeSpan.FromSeconds(30);
    private static readonly ConcurrentDictionary<NginxServer, byte> Running = new();

    private readonly string _prefix;
    private readonly TestCertificateAuthority? _ownedAuthority;
    private readonly ServerCertificateFiles _certificate;
    private readonly MisbehavingUpstream _upstream;
    private readonly HttpClient _control;
    private readonly StringBuilder _output = new();
    private readonly SemaphoreSlim _lock = new(1, 1);
    private Process? _master;
    private int _generation;
    private bool _disposed;

    static NginxServer()
    {
        // A test host that ends without disposing a server (a test that forgot, an assembly cleanup cut
        // short) still takes its nginx along. A host that is killed cannot: the next test host to start
        // a fixture sweeps up after it (FixtureDirectories).
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (NginxServer server in Running.Keys)
            {
                server.KillNow();
            }
        };
    }

    private NginxServer(string prefix, TestCertificateAuthority authority, TestCertificateAuthority? ownedAuthority, NginxServerOptions options)
    {
        _prefix = prefix;
        CertificateAuthority = authority;
        _ownedAuthority = ownedAuthority;
        Mode = options.Mode;
        DeviceToken = options.DeviceToken;
        _releaseBytesPerSecond = options.ReleaseBytesPerSecond;
        DocumentDirectory = Path.Combine(prefix, "www");
        Directory.CreateDirectory(DocumentDirectory);
        Directory.CreateDirectory(Path.Combine(prefix, "logs"));
        Directory.CreateDirectory(Path.Combine(prefix, "temp"));
        _certificate = options.ServerCertificateValidity is var (notBefore, notAfter)
            ? authority.IssueServerCertificate(Path.Combine(prefix, "tls"), notBefore, notAfter)
            : authority.IssueServerCertificate(Path.Combine(prefix, "tls"));
        _upstream = MisbehavingUpstream.Start(DocumentDirectory);
        _control = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(2) })
        {
            Timeout = TimeSpan.FromSeconds(5),
        };
    }

    /// <summary>The TLS port: https://127.0.0.1:Port/ (the certificate names 127.0.0.1, ::1 and localhost).</summary>
    public int Port { get; private set; }

    /// <summary>The plain HTTP port of the same nginx (the target of <see cref="NginxMode.RedirectToHttp"/>).</summary>
    public int HttpPort { get; private set; }

    /// <summary>https://127.0.0.1:PORT/. Changes only if a restart found its old port taken.</summary>
    public Uri BaseUrl => new(string.Create(CultureInfo.InvariantCulture, $"https://127.0.0.1:{Port}/"));

    public Uri HttpBaseUrl => new(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{HttpPort}/"));

    public Uri ReportUrl => new(BaseUrl, "report");

    public string DocumentDirectory { get; }

    public TestCertificateAuthority CertificateAuthority { get; }

    /// <summary>The CA a client must trust (PEM), the only one.</summary>
    public string CaCertificatePath => CertificateAuthority.CertificatePath;

    public NginxMode Mode { get; private set; }

    public string? DeviceToken { get; private set; }

    public bool IsRunning => _master is { HasExited: false };

    /// <summary>nginx's error log so far (notice level: starts, reloads, upstream errors).</summary>
    public string ErrorLog => ReadShared(Path.Combine(_prefix, ErrorLogFileName));

    /// <summary>nginx's access log (combined format). It is written after each response has gone out.</summary>
    public string AccessLog() => ReadShared(Path.Combine(_prefix, "logs/access.log"));

    /// <summary>Waits (bounded) until the access log holds <paramref name="text"/>, e.g. <c>"GET /a.jws HTTP/1.1" 304</c>.</summary>
    public async Task<bool> WaitForAccessLogAsync(string text, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (!AccessLog().Contains(text, StringComparison.Ordinal))
        {
            if (waited.Elapsed > timeout)
            {
                return false;
            }
            await Task.Delay(20);
        }
        return true;
    }

    /// <summary>For a failing test's message: the error log, what nginx printed, and its configuration.</summary>
    public string Diagnostics
    {
        get
        {
            string output;
            lock (_output)
            {
                output = _output.ToString();
            }

            return $"--- nginx error log ---\n{ErrorLog}\n--- nginx output ---\n{output}\n--- {ConfigFileName} ---\n"
                + ReadShared(Path.Combine(_prefix, ConfigFileName))
                + $"\n--- {ModeFile} ---\n" + ReadShared(Path.Combine(_prefix, ModeFile));
        }
    }

    public static async Task<NginxServer> StartAsync(NginxServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new NginxServerOptions();
        if (!File.Exists(NginxPath))
        {
            throw new InvalidOperationException($"{NginxPath} is missing: install Debian's nginx package (scripts/test.sh does)");
        }

        ValidateToken(options.DeviceToken);
        string prefix = FixtureDirectories.Create(FixtureDirectories.NginxPrefix);
        TestCertificateAuthority? owned = options.CertificateAuthority is null ? TestCertificateAuthority.Create() : null;
        var server = new NginxServer(prefix, options.CertificateAuthority ?? owned!, owned, options);
        try
        {
            await server.StartAgainAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The https URL of a document, relative to <see cref="BaseUrl"/>.</summary>
    public Uri UrlOf(string relativePath) => new(BaseUrl, relativePath.TrimStart('/'));

    public string WriteDocument(string relativePath, string content) => WriteDocument(relativePath, Encoding.UTF8.GetBytes(content));

    /// <summary>
    /// Writes a document atomically (a reader sees the old or the new one, never half). nginx's ETag
    /// is the modification time in whole seconds and the length, so a rewrite of the same length within
    /// the same second would keep its ETag (and earn a 304): the new file's time is moved at least one
    /// second past the old one's.
    /// </summary>
    public string WriteDocument(string relativePath, ReadOnlySpan<byte> content)
    {
        string path = Path.GetFullPath(Path.Combine(DocumentDirectory, relativePath.TrimStart('/')));
        if (!path.StartsWith(DocumentDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException($"{relativePath} is outside the document directory", nameof(relativePath));
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        DateTime? previous = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : null;
        string temporary = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
        {
            stream.Write(content);
        }

        DateTime now = DateTime.UtcNow;
        DateTime time = previous is { } old && now < old.AddSeconds(1) ? old.AddSeconds(1) : now;
        File.SetLastWriteTimeUtc(temporary, time);
        File.Move(temporary, path, overwrite: true);
        return path;
    }

    /// <summary>Switches how documents are answered; returns once nginx answers every new connection so.</summary>
    public Task SetModeAsync(NginxMode mode, CancellationToken cancellationToken = default) =>
        ReconfigureAsync(() => Mode = mode, cancellationToken);

    /// <summary>Sets (or with null removes) the bearer token every request must carry.</summary>
    public Task SetDeviceTokenAsync(string? token, CancellationToken cancellationToken = default)
    {
        ValidateToken(token);
        return ReconfigureAsync(() => DeviceToken = token, cancellationToken);
    }

    /// <summary>Stops nginx (master and workers): connections to <see cref="Port"/> are refused afterwards.</summary>
    public async Task StopAsync()
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            StopMaster();
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Starts nginx again after <see cref="StopAsync"/>, on the same ports when they are still free
    /// (else on new ones: <see cref="BaseUrl"/> tells).
    /// </summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (IsRunning)
            {
                throw new InvalidOperationException("nginx is already running");
            }

            for (int attempt = 1; ; attempt++)
            {
                if (Port == 0 || attempt > 1)
                {
                    (Port, HttpPort) = (FreeTcpPort(), FreeTcpPort());
                }

                if (await TryStartMasterAsync(cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                // Someone took a port between our look and nginx's bind(): take others.
                if (attempt == 5)
                {
                    throw new InvalidOperationException($"nginx could not bind a port in {attempt} attempts\n{Diagnostics}");
                }
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Every request to /report so far, in order (nginx logs one after it has answered it).</summary>
    public IReadOnlyList<RecordedReport> Reports()
    {
        var reports = new List<RecordedReport>();
        string log = ReadShared(Path.Combine(_prefix, ReportLogFileName));
        // Only whole lines: nginx may be half way through appending the last one.
        foreach (string line in log[..(log.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using JsonDocument entry = JsonDocument.Parse(line);
            JsonElement root = entry.RootElement;
            string? Field(string name) => root.GetProperty(name).GetString() is { Length: > 0 } value ? value : null;
            reports.Add(new RecordedReport(
                int.Parse(Field("status")!, CultureInfo.InvariantCulture),
                Field("method")!,
                Field("authorization"),
                Field("contentType"),
                Field("body") ?? ""));
        }

        return reports;
    }

    /// <summary>The bodies of the reports nginx accepted (204), in order.</summary>
    public IReadOnlyList<string> ReportBodies() =>
        Reports().Where(r => r.Status == (int)HttpStatusCode.NoContent).Select(r => r.Body).ToList();

    /// <summary>
    /// Waits until at least <paramref name="count"/> reports have been accepted. nginx writes its log
    /// line after the 204 has gone out, so a client may see the answer before the line exists.
    /// </summary>
    public async Task<IReadOnlyList<string>> WaitForReportBodiesAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            IReadOnlyList<string> bodies = ReportBodies();
            if (bodies.Count >= count)
            {
                return bodies;
            }

            if (stopwatch.Elapsed > timeout)
            {
                throw new TimeoutException($"{bodies.Count} of {count} reports arrived within {timeout}\n{Diagnostics}");
            }

            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            StopMaster();
        }
        finally
        {
            _lock.Release();
        }

        Running.TryRemove(this, out _);
        await _upstream.DisposeAsync().ConfigureAwait(false);
        _control.Dispose();
        _ownedAuthority?.Dispose();
        FixtureDirectories.Delete(_prefix);
    }

    private async Task ReconfigureAsync(Action change, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            change();
            if (!IsRunning)
            {
                return; // written at the next start
            }

            // Which workers serve the old configuration: the reload is done once none of them accepts
            // connections any more. A worker told to quit closes its listening sockets and idle
            // keep-alive connections first and then calls itself "worker process is shutting down".
            int master = _master!.Id;
            IReadOnlyList<int> oldWorkers = NginxProcesses.ChildrenOf(master);
            _generation++;
            WriteIncludedConfig();
            NginxProcesses.Signal(master, NginxProcesses.SIGHUP);

            var stopwatch = Stopwatch.StartNew();
            while (true)
            {
                if (!IsRunning)
                {
                    throw new InvalidOperationException($"nginx exited during a reload\n{Diagnostics}");
                }

                bool oldWorkersGone = oldWorkers.All(pid =>
                    !NginxProcesses.IsAlive(pid) || NginxProcesses.CommandLine(pid).Contains("shutting down", StringComparison.Ordinal));
                if (oldWorkersGone && await ServesGenerationAsync(cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                if (stopwatch.Elapsed > ReloadTimeout)
                {
                    // nginx keeps the old configuration when the new one is wrong: the error log says why.
                    throw new TimeoutException($"nginx did not take generation {_generation} within {ReloadTimeout}\n{Diagnostics}");
                }

                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Starts a master on <see cref="Port"/> and <see cref="HttpPort"/>; false if a port was taken.</summary>
    private async Task<bool> TryStartMasterAsync(CancellationToken cancellationToken)
    {
        _generation++;
        WriteMainConfig();
        WriteIncludedConfig();
        File.Delete(Path.Combine(_prefix, ErrorLogFileName));
        lock (_output)
        {
            _output.Clear();
        }

        var start = new ProcessStartInfo(NginxPath)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        // -e: the error log before the configuration is read (else /var/log/nginx/error.log).
        foreach (string argument in new[] { "-p", _prefix + "/", "-c", Path.Combine(_prefix, ConfigFileName), "-e", Path.Combine(_prefix, ErrorLogFileName) })
        {
            start.ArgumentList.Add(argument);
        }

        var master = new Process { StartInfo = start };
        master.OutputDataReceived += (_, e) => Record(e.Data);
        master.ErrorDataReceived += (_, e) => Record(e.Data);
        master.Start();
        master.BeginOutputReadLine();
        master.BeginErrorReadLine();
        _master = master;
        Running.TryAdd(this, 0);

        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            if (master.HasExited)
            {
                await master.WaitForExitAsync(cancellationToken).ConfigureAwait(false); // the output is all read
                _master = null;
                master.Dispose();
                if (BindFailed().IsMatch(Diagnostics))
                {
                    return false;
                }

                throw new InvalidOperationException($"nginx exited at start\n{Diagnostics}");
            }

            if (await ServesGenerationAsync(cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            if (stopwatch.Elapsed > StartTimeout)
            {
                StopMaster();
                throw new TimeoutException($"nginx did not answer within {StartTimeout}\n{Diagnostics}");
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// This instance's directory and its configuration's number: another fixture's nginx that won a
    /// port race must not pass for ours.
    /// </summary>
    private string GenerationMarker => string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(_prefix)}/{_generation}");

    /// <summary>Whether a new connection is answered with the current generation (Connection: close, so no old keep-alive one).</summary>
    private async Task<bool> ServesGenerationAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(HttpBaseUrl, GenerationPath));
        request.Headers.ConnectionClose = true;
        try
        {
            using HttpResponseMessage response = await _control.SendAsync(request, cancellationToken).ConfigureAwait(false);
            string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode && body.Trim() == GenerationMarker;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private void StopMaster()
    {
        if (_master is not { } master)
        {
            return;
        }

        _master = null;
        if (!master.HasExited)
        {
            NginxProcesses.StopTree(master.Id, TimeSpan.FromSeconds(10));
        }

        master.WaitForExit(); // reaped, and its output drained
        master.Dispose();
    }

    /// <summary>At process exit: no waiting, no async (FixtureDirectories deletes the directory).</summary>
    private void KillNow()
    {
        if (_master is { } master && !master.HasExited)
        {
            NginxProcesses.KillTree(master.Id);
        }
    }

    private void Record(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static int FreeTcpPort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary>RFC 6750 §2.1 b64token: also what can stand unquoted-safe inside the nginx map.</summary>
    private static void ValidateToken(string? token)
    {
        if (token is not null && !Token().IsMatch(token))
        {
            throw new ArgumentException($"'{token}' is not a bearer token (RFC 6750 §2.1 b64token)", nameof(token));
        }
    }

    private static string ReadShared(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return "";
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9\-._~+/]+=*$")]
    private static partial Regex Token();

    [GeneratedRegex(@"bind\(\) to .* failed \(98: Address already in use\)")]
    private static partial Regex BindFailed();
}
