using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EdgeRelay.Appliance.Clock;
using EdgeRelay.Appliance.Status;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Cloud;

/// <summary>The configuration in force when the puller starts: from the store, or the bootstrap file (version 0).</summary>
/// <param name="Document">The signed document it came from; null for the bootstrap file.</param>
public sealed record AppliedConfiguration(string Source, long Version, string? Document, string? ETag, IReadOnlyList<TrustedKey> TrustedKeys, string? SignedBy);

/// <summary>
/// Pulls this box's signed configuration from <see cref="CloudOptions.Url"/>, checks it (signature by a
/// trusted key, a version above the applied one, the sink's validation), applies it through the sink,
/// and keeps it in the <see cref="LastKnownGoodStore"/>. Polls at the configured interval with jitter, asks
/// with If-None-Match so that an unchanged document costs a 304, and backs off exponentially (with
/// jitter, capped) while the cloud cannot be reached. Whatever goes wrong leaves the applied
/// configuration in force and shows as a reason in the status model: D2 while the cloud cannot be
/// reached, D6 while its document is refused, D1 when no good answer came for three poll intervals.
/// </summary>
public sealed class CloudPuller<T> : IAsyncDisposable
{
    private const int MaxRedirects = 5;

    private readonly CloudOptions _options;
    private readonly ICloudConfigurationSink<T> _sink;
    private readonly LastKnownGoodStore _store;
    private readonly StatusModel _model;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _polling = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly ClockMonitor? _clock;
    private readonly CertificateTimeFailures _certificateTimes = new();
    private Task? _loop;

    /// <summary>When the cloud last answered well (or the puller started), on the monotonic clock: a step of the wall clock must not make the configuration stale (D1), or keep it fresh.</summary>
    private long _lastGoodTimestamp;

    private AppliedConfiguration _applied;
    private TimeSpan _pollInterval;
    private string? _rejectedETag;
    private string? _rejectedProblem;
    private int _failures;
    private CloudStatus _status;

    public CloudPuller(CloudOptions options, ICloudConfigurationSink<T> sink, LastKnownGoodStore store, AppliedConfiguration initial,
        StatusModel model, TimeProvider time, ILogger logger, HttpMessageHandler? handler = null, ClockMonitor? clock = null)
    {
        _clock = clock;
        _options = options;
        _sink = sink;
        _store = store;
        _model = model;
        _time = time;
        _logger = logger;
        _applied = initial;
        _pollInterval = options.PollInterval;
        _lastGoodTimestamp = time.GetTimestamp();
        _http = new HttpClient(handler ?? CloudHttp.CreateHandler(options, _certificateTimes), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("edgerelay", typeof(CloudPuller<T>).Assembly.GetName().Version?.ToString(3) ?? "0"));
        _status = new CloudStatus(initial.Source, initial.Version, options.Url.ToString(), PollOutcome.None, null, null, null, null, initial.SignedBy);
    }

    public CloudStatus Status
    {
        get
        {
            lock (_gate)
            {
                return _status;
            }
        }
    }

    /// <summary>The keys the next document must be signed with (the bootstrap's, or a rotation's).</summary>
    public IReadOnlyList<TrustedKey> TrustedKeys
    {
        get
        {
            lock (_gate)
            {
                return _applied.TrustedKeys;
            }
        }
    }

    /// <summary>Raised after a new configuration was applied, with its status.</summary>
    public event Action<CloudStatus>? Applied;

    /// <summary>Raised after every poll, whatever its outcome, once the model has heard it.</summary>
    public event Action<CloudStatus>? Polled;

    /// <summary>Starts polling: the first poll at once, then at the interval.</summary>
    public void Start() => _loop = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                PollOutcome outcome;
                try
                {
                    outcome = await PollNowAsync(_stopping.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A bug must not end polling for good: the box would never hear of a fix. Say it, go on.
                    CloudLog.PollFailed(_logger, e);
                    outcome = PollOutcome.Unreachable;
                }
                await Task.Delay(NextDelay(outcome), _time, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// The poll interval, give or take 10 % so that a fleet that started together spreads out; after a
    /// failure to reach the cloud, 2^n times a short base (at most the poll interval), capped, and drawn
    /// from its upper half ("equal jitter") so that retries neither hammer nor synchronise.
    /// </summary>
    private TimeSpan NextDelay(PollOutcome outcome)
    {
        TimeSpan interval;
        int failures;
        lock (_gate)
        {
            interval = _pollInterval;
            failures = _failures;
        }
        // A clock that is wrong may be put right by NTP any moment: retry as soon as for a cloud out of reach.
        if (outcome is not (PollOutcome.Unreachable or PollOutcome.ClockWrong))
        {
            return interval * (0.9 + 0.2 * Random.Shared.NextDouble());
        }
        TimeSpan ceiling = BackoffCeiling(interval, failures);
        return ceiling / 2 + ceiling / 2 * Random.Shared.NextDouble();
    }

    private TimeSpan BackoffCeiling(TimeSpan interval, int failures)
    {
        TimeSpan first = interval < TimeSpan.FromSeconds(5) ? interval : TimeSpan.FromSeconds(5);
        return TimeSpan.FromTicks((long)Math.Min(first.Ticks * Math.Pow(2, Math.Clamp(failures - 1, 0, 30)), _options.MaxBackoff.Ticks));
    }

    /// <summary>One poll, now (also what the loop runs). Never throws but for cancellation of <paramref name="cancellationToken"/>.</summary>
    public async Task<PollOutcome> PollNowAsync(CancellationToken cancellationToken = default)
    {
        await _polling.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            PollResult result = await FetchAndApplyAsync(cancellationToken).ConfigureAwait(false);
            Report(result);
            return result.Outcome;
        }
        finally
        {
            _polling.Release();
        }
    }

    private readonly record struct PollResult(PollOutcome Outcome, string? Problem = null, int HttpStatus = 0);

    private async Task<PollResult> FetchAndApplyAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        Uri url = _options.Url;
        HttpResponseMessage? response = null;
        try
        {
            for (int redirects = 0; ; redirects++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                // The token goes to the configured origin only: a redirect elsewhere must not carry it away.
                if (_options.DeviceToken is { } token && Uri.Compare(url, _options.Url, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                }
                AddIfNoneMatch(request);
                _certificateTimes.Take();
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                if (response.Headers.Date is { } date)
                {
                    // The cloud's clock, through an authenticated channel: the cross-check of the box's own (RFC 9110
                    // §6.6.1). A cache (a CDN in front of the host) answers with the stored response's Date and its Age
                    // (RFC 9111 §5.1): the time it answered is their sum.
                    _clock?.ReportCloudDate(date + (response.Headers.Age ?? TimeSpan.Zero));
                }
                if ((int)response.StatusCode is not (301 or 302 or 303 or 307 or 308))
                {
                    break;
                }
                Uri? next = response.Headers.Location is { } location ? new Uri(url, location) : null;
                response.Dispose();
                response = null;
                if (next is null || redirects == MaxRedirects)
                {
                    return new PollResult(PollOutcome.Unreachable, next is null ? "a redirect without a Location" : $"more than {MaxRedirects} redirects");
                }
                if (next.Scheme != Uri.UriSchemeHttps)
                {
                    // The document is signed, but the device token is not to travel in clear text, and a
                    // downgrade is a sign of something wrong on the way.
                    return new PollResult(PollOutcome.Unreachable, $"redirected to {next.GetLeftPart(UriPartial.Path)}: refused, only HTTPS is followed");
                }
                url = next;
            }

            int status = (int)response.StatusCode;
            string? etag = response.Headers.ETag?.ToString();
            if (status == 304)
            {
                lock (_gate)
                {
                    if (etag is not null && etag == _rejectedETag)
                    {
                        return new PollResult(PollOutcome.Rejected, _rejectedProblem, status);
                    }
                }
                return new PollResult(PollOutcome.Unchanged, HttpStatus: status);
            }
            if (status != 200)
            {
                string hint = status is 401 or 403 ? " (is cloud.deviceToken right?)" : "";
                return new PollResult(PollOutcome.Unreachable, $"HTTP {status} {response.ReasonPhrase}{hint}", status);
            }

            long? length = response.Content.Headers.ContentLength;
            if (length > _options.MaxDocumentBytes)
            {
                return Reject(etag, $"the document is {length} bytes, more than cloud.maxDocumentBytes ({_options.MaxDocumentBytes})");
            }
            byte[]? body = await ReadBodyAsync(response, timeout.Token).ConfigureAwait(false);
            if (body is null)
            {
                return Reject(etag, $"the document is larger than cloud.maxDocumentBytes ({_options.MaxDocumentBytes})");
            }
            return Accept(Encoding.UTF8.GetString(body), etag);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new PollResult(PollOutcome.Unreachable, $"no complete answer within {_options.Timeout.TotalSeconds:0} s (cloud.timeoutSeconds)");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            if (_certificateTimes.Take() is { } certificate
                && _clock?.ExplainCertificateTimeFailure(certificate.Host, certificate.NotBefore, certificate.NotAfter) is string clockWrong)
            {
                return new PollResult(PollOutcome.ClockWrong, clockWrong);
            }
            return new PollResult(PollOutcome.Unreachable, CloudHttp.Describe(e));
        }
        finally
        {
            response?.Dispose();
        }
    }

    /// <summary>If-None-Match with the applied document's ETag and a refused one's: either is "nothing new" (RFC 9110 §13.1.2).</summary>
    private void AddIfNoneMatch(HttpRequestMessage request)
    {
        lock (_gate)
        {
            foreach (string? etag in new[] { _applied.ETag, _rejectedETag }.Distinct())
            {
                if (etag is not null && EntityTagHeaderValue.TryParse(etag, out EntityTagHeaderValue? value))
                {
                    request.Headers.IfNoneMatch.Add(value);
                }
            }
        }
    }

    /// <summary>The body, or null when it is longer than the limit (whatever Content-Length said).</summary>
    private async Task<byte[]?> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using Stream stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var content = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (content.Length + read > _options.MaxDocumentBytes)
            {
                return null;
            }
            content.Write(chunk, 0, read);
        }
        return content.ToArray();
    }

    private PollResult Accept(string document, string? etag)
    {
        AppliedConfiguration applied;
        lock (_gate)
        {
            applied = _applied;
        }
        if (document == applied.Document)
        {
            return new PollResult(PollOutcome.Unchanged, HttpStatus: 200);
        }
        SignatureCheck check = SignedDocument.Verify(document, applied.TrustedKeys, out byte[] payload, out string? keyId);
        if (check != SignatureCheck.None)
        {
            return Reject(etag, SignedDocument.Describe(check, keyId));
        }
        CloudCandidate<T> candidate;
        try
        {
            candidate = _sink.Validate(payload);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // CloudDocumentException is the sink's word for it; anything else is a bug, but still a refusal.
            return Reject(etag, $"not a valid configuration: {e.Message}");
        }
        if (candidate.Version <= applied.Version)
        {
            return Reject(etag, candidate.Version < applied.Version
                ? $"version {candidate.Version} is older than the applied version {applied.Version}: a rollback is refused (publish it with a higher version)"
                : $"version {candidate.Version} is not newer than the version in force ({applied.Version}): a change needs a higher version");
        }

        _model.SetStarting(true);
        try
        {
            _sink.Apply(candidate);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not remembered as refused: a port in use or a missing certificate may pass, so the same
            // document is tried again at the next poll (and the log says it once).
            return new PollResult(PollOutcome.Rejected, $"version {candidate.Version} could not be applied, version {applied.Version} stays: {e.Message}", 200);
        }
        finally
        {
            _model.SetStarting(false);
        }

        IReadOnlyList<TrustedKey> nextKeys = candidate.TrustedKeys ?? applied.TrustedKeys;
        var next = new AppliedConfiguration("cloud", candidate.Version, document, etag, nextKeys, keyId);
        DateTimeOffset now = _time.GetUtcNow();
        lock (_gate)
        {
            _applied = next;
            // As after a restart (CloudConfiguration.Merge): a document without it means the bootstrap's interval.
            _pollInterval = candidate.PollInterval ?? _options.PollInterval;
            _rejectedETag = null;
            _rejectedProblem = null;
            _status = _status with { Source = next.Source, Version = next.Version, AppliedAt = now, SignedBy = keyId };
        }
        CloudLog.Applied(_logger, candidate.Version, _options.Url.ToString(), keyId!, applied.Version);
        if (candidate.TrustedKeys is not null && !candidate.TrustedKeys.Select(k => k.KeyId).SequenceEqual(applied.TrustedKeys.Select(k => k.KeyId)))
        {
            CloudLog.KeysRotated(_logger, candidate.Version, string.Join(", ", nextKeys.Select(k => k.KeyId)));
        }
        try
        {
            // Stored after it applied: a document that cannot be applied must not be what the next start runs.
            _store.Save(new StoredDocument(document, candidate.Version, applied.TrustedKeys.Select(k => k.ToString()).ToList(), etag, now));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            CloudLog.StoreFailed(_logger, candidate.Version, e.Message);
        }
        return new PollResult(PollOutcome.Applied, HttpStatus: 200);
    }

    private PollResult Reject(string? etag, string problem)
    {
        lock (_gate)
        {
            _rejectedETag = etag;
            _rejectedProblem = problem;
        }
        return new PollResult(PollOutcome.Rejected, problem, 200);
    }

    /// <summary>Says what happened: in the log (a repeated problem once), on the model, in <see cref="Status"/>.</summary>
    private void Report(PollResult result)
    {
        DateTimeOffset now = _time.GetUtcNow();
        CloudStatus previous;
        CloudStatus current;
        int failures;
        lock (_gate)
        {
            previous = _status;
            _failures = result.Outcome is PollOutcome.Unreachable or PollOutcome.ClockWrong ? _failures + 1 : 0;
            failures = _failures;
            bool contact = result.Outcome is PollOutcome.Applied or PollOutcome.Unchanged;
            if (contact)
            {
                _lastGoodTimestamp = _time.GetTimestamp();
            }
            _status = _status with
            {
                LastOutcome = result.Outcome,
                LastProblem = result.Problem,
                LastAttempt = now,
                LastContact = contact ? now : _status.LastContact,
            };
            current = _status;
        }

        TimeSpan interval;
        lock (_gate)
        {
            interval = _pollInterval;
        }
        bool repeated = result.Outcome == previous.LastOutcome && result.Problem == previous.LastProblem;
        switch (result.Outcome)
        {
            case PollOutcome.Unreachable:
                if (!repeated)
                {
                    CloudLog.Unreachable(_logger, _options.Url.ToString(), current.Version, (int)BackoffCeiling(interval, failures).TotalSeconds, result.Problem!);
                }
                break;
            case PollOutcome.ClockWrong:
                if (!repeated)
                {
                    CloudLog.ClockWrong(_logger, _options.Url.ToString(), current.Version, result.Problem!);
                }
                break;
            case PollOutcome.Rejected:
                if (!repeated)
                {
                    CloudLog.Rejected(_logger, _options.Url.ToString(), current.Version, result.Problem!);
                }
                break;
            default:
                if (previous.LastOutcome is PollOutcome.Unreachable or PollOutcome.ClockWrong)
                {
                    CloudLog.Reachable(_logger, _options.Url.ToString());
                }
                if (result.Outcome == PollOutcome.Unchanged)
                {
                    CloudLog.Unchanged(_logger, _options.Url.ToString(), result.HttpStatus);
                }
                break;
        }

        _model.Set(StatusReasons.CloudUnreachable, result.Outcome == PollOutcome.Unreachable);
        _model.Set(StatusReasons.ConfigurationRejected, result.Outcome == PollOutcome.Rejected);
        long lastGood;
        lock (_gate)
        {
            lastGood = _lastGoodTimestamp;
        }
        _model.Set(StatusReasons.ConfigurationStale, _time.GetElapsedTime(lastGood) > 3 * interval);
        if (result.Outcome == PollOutcome.Applied)
        {
            Applied?.Invoke(current);
        }
        Polled?.Invoke(current);
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
        _polling.Dispose();
    }
}
