using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Cloud;

/// <summary>What a box tells the fleet operator about itself (a POST of JSON to <c>cloud.reportUrl</c>). Names are the contract.</summary>
public sealed record CloudReport(
    string DeviceId,
    string SoftwareVersion,
    long ConfigurationVersion,
    string ConfigurationSource,
    string Health,
    IReadOnlyList<string> Reasons,
    int Allocations,
    long PacketsToPeers,
    long PacketsFromPeers,
    long BytesToPeers,
    long BytesFromPeers,
    long UptimeSeconds,
    string LastPoll,
    DateTimeOffset SentAt,
    Web.UpdateDocument? Update = null);

/// <summary>
/// Posts a <see cref="CloudReport"/> after each applied configuration and on an interval, with the device
/// token, under the same HTTPS rules as the puller. A report that fails is logged (once per distinct
/// problem) and never affects relaying: the next one carries the news.
/// </summary>
public sealed class CloudReporter : IAsyncDisposable
{
    private readonly CloudOptions _options;
    private readonly Uri _url;
    private readonly Func<CloudReport> _snapshot;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private string? _lastProblem;
    private Task? _loop;

    public CloudReporter(CloudOptions options, Func<CloudReport> snapshot, ILogger logger, HttpMessageHandler? handler = null)
    {
        _options = options;
        _url = options.ReportUrl ?? throw new ArgumentException("no report URL", nameof(options));
        _snapshot = snapshot;
        _logger = logger;
        _http = new HttpClient(handler ?? CloudHttp.CreateHandler(options), disposeHandler: true) { Timeout = options.Timeout };
    }

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Sends a report soon (after an apply), besides the interval's.</summary>
    public void ReportSoon()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // One is due already.
        }
    }

    private async Task RunAsync()
    {
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                await SendAsync(_stopping.Token).ConfigureAwait(false);
                // Whichever comes first: the interval, or an apply asking for a report.
                await _wake.WaitAsync(_options.ReportInterval, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>One report, now; true when the endpoint took it (any 2xx).</summary>
    public async Task<bool> SendAsync(CancellationToken cancellationToken = default)
    {
        string? problem = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _url)
            {
                Content = JsonContent.Create(_snapshot(), CloudReportJsonContext.Default.CloudReport),
            };
            if (_options.DeviceToken is { } token)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
            // Headers only: the answer's body is of no interest, and must not be buffered whatever its size.
            using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                problem = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            problem = $"no answer within {_options.Timeout.TotalSeconds:0} s";
        }
        catch (HttpRequestException e)
        {
            problem = CloudHttp.Describe(e);
        }
        if (problem is not null && problem != _lastProblem)
        {
            CloudLog.ReportFailed(_logger, _url.ToString(), problem);
        }
        _lastProblem = problem;
        return problem is null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        _http.Dispose();
        _stopping.Dispose();
        _wake.Dispose();
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CloudReport))]
internal sealed partial class CloudReportJsonContext : JsonSerializerContext;
