using EdgeRelay.Appliance.Clock;
using EdgeRelay.Appliance.Update;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Appliance.Leds;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Net;
using EdgeRelay.Turn;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Web;

public sealed record StatusPageOptions
{
    public required IPEndPoint Endpoint { get; init; }

    /// <summary>Bearer token for actions; null disables them (there is no default).</summary>
    public string? AdminToken { get; init; }

    public required string Version { get; init; }
    public required string ConfigurationSource { get; init; }

    /// <summary>The running configuration's <c>version</c>; null when it has none (the development default).</summary>
    public long? ConfigurationVersion { get; init; }

    /// <summary>The cloud puller's state, read on every request; null when the box has no cloud section.</summary>
    public Func<CloudStatus>? Cloud { get; init; }

    /// <summary>
    /// The self-check that runs now, read on every request (its last result; <c>POST /api/selfcheck</c> runs
    /// it at once); null, or a null answer, when the box runs none.
    /// </summary>
    public Func<SelfCheckRunner?>? SelfCheck { get; init; }

    /// <summary>
    /// The LEDs the driver opened, read on every request: empty when the LEDs cannot be used (no such LED, no
    /// permission), so that a box whose lights stay dark says so on its page.
    /// </summary>
    public Func<IReadOnlyList<LedRole>>? LedOutputs { get; init; }
    public IReadOnlyList<string> IceServerUrls { get; init; } = [];

    /// <summary>Starts (true) or ends (false) draining, from <c>POST /api/drain</c> and <c>/api/resume</c>; null: those answer 409.</summary>
    public Action<bool>? SetDraining { get; init; }

    /// <summary>What the box knows about its clock, read on every request; null: not checked (the page says so).</summary>
    public Func<ClockStatus>? Clock { get; init; }

    /// <summary>Where the software stands, read on every request; null: the box takes no updates.</summary>
    public Func<UpdateStatus>? Update { get; init; }

    /// <summary>Names besides IP literals and localhost that the page answers to in the Host header.</summary>
    public IReadOnlyList<string> HostNames { get; init; } = [];
}

/// <summary>
/// The local status page on <c>status.endpoint</c>: <c>/</c> (one self-contained HTML page, no CDN, works
/// offline), <c>/api/status</c> (JSON), <c>/metrics</c> (Prometheus), and actions that need the admin
/// token (<c>POST /api/identify</c>, <c>POST /api/probe</c>). ASP.NET Core's slim builder, source-generated JSON: Native AOT clean.
/// </summary>
public sealed class StatusPage : IAsyncDisposable
{
    private StatusPageOptions _options;
    private readonly RelayEngine _engine;
    private readonly StatusModel _model;
    private readonly RelayObserver _observer;
    private readonly RecentErrors _errors;
    private readonly TimeProvider _time;
    private readonly Action _identify;
    private readonly Func<LedSignal>? _ledShown;
    private readonly DateTimeOffset _startedAt;
    private WebApplication? _app;
    private int _probing;

    public StatusPage(StatusPageOptions options, RelayEngine engine, StatusModel model, RelayObserver observer, RecentErrors errors,
        TimeProvider time, Action identify, Func<LedSignal>? ledShown = null)
    {
        _ledShown = ledShown;
        _options = options;
        _engine = engine;
        _model = model;
        _observer = observer;
        _errors = errors;
        _time = time;
        _identify = identify;
        _startedAt = time.GetUtcNow();
    }

    /// <summary>
    /// Takes new options from a configuration that was applied: token, host names, what the page shows.
    /// The endpoint is bound once; a new one needs a new page.
    /// </summary>
    public void Update(StatusPageOptions options)
    {
        if (!options.Endpoint.Equals(_options.Endpoint))
        {
            throw new ArgumentException("the endpoint of a running page cannot change", nameof(options));
        }
        Volatile.Write(ref _options, options);
    }

    /// <summary>The bound endpoint (the port is chosen by the system when the configuration says 0).</summary>
    public IPEndPoint? LocalEndPoint { get; private set; }

    public async Task StartAsync(ILoggerFactory loggerFactory)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(_options.Endpoint);
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 4096;
        });
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, StatusJsonContext.Default));
        WebApplication app = builder.Build();

        app.Use(async (context, next) =>
        {
            // DNS rebinding: a page on some web site that resolves its own name to this box must not be
            // able to read it. Only IP literals, localhost and configured names are answered.
            if (!IsAllowedHost(context.Request.Host))
            {
                context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
                return;
            }
            context.Response.Headers.CacheControl = "no-store";
            context.Response.Headers["X-Content-Type-Options"] = "nosniff";
            context.Response.Headers["X-Frame-Options"] = "DENY";
            context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'";
            await next(context).ConfigureAwait(false);
        });
        app.MapGet("/", () => Results.Text(StatusPageHtml.Page, "text/html; charset=utf-8"));
        app.MapGet("/api/status", () => Results.Json(Document(), StatusJsonContext.Default.StatusDocument));
        app.MapGet("/metrics", () => Results.Text(
            PrometheusMetrics.Write(_engine, _model.Current, (long)(_time.GetUtcNow() - _startedAt).TotalSeconds, Volatile.Read(ref _options).Version,
                DescribeConfiguration(Volatile.Read(ref _options)), Volatile.Read(ref _options).Clock?.Invoke(), Volatile.Read(ref _options).Update?.Invoke()),
            PrometheusMetrics.ContentType));
        app.MapPost("/api/identify", (HttpContext context) =>
        {
            if (Authorize(context) is { } refused)
            {
                return refused;
            }
            _identify();
            return Results.Json(new ActionResult("identifying for 15 s"), StatusJsonContext.Default.ActionResult);
        });
        app.MapPost("/api/probe", (HttpContext context, CancellationToken aborted) => ProbeAsync(context, aborted));
        app.MapPost("/api/drain", (HttpContext context) => Drain(context, true));
        app.MapPost("/api/resume", (HttpContext context) => Drain(context, false));
        app.MapPost("/api/selfcheck", (HttpContext context, CancellationToken aborted) => CheckNowAsync(context, aborted));

        await app.StartAsync().ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(address);
        LocalEndPoint = new IPEndPoint(_options.Endpoint.Address, uri.Port);
        _app = app;
    }

    /// <summary>
    /// <c>POST /api/selfcheck</c>: the self-check at once (after a fix to the NAT, say), rather than at its
    /// next interval; it answers the panel's document. A check already running is joined, not doubled.
    /// </summary>
    private async Task<IResult> CheckNowAsync(HttpContext context, CancellationToken aborted)
    {
        if (Authorize(context) is { } refused)
        {
            return refused;
        }
        if (Volatile.Read(ref _options).SelfCheck?.Invoke() is not { } runner)
        {
            return Results.Problem("no self-check is configured: set selfCheck.stunServers", statusCode: StatusCodes.Status409Conflict);
        }
        try
        {
            SelfCheckResult result = await runner.CheckAsync(aborted).ConfigureAwait(false);
            return Results.Json(DescribeSelfCheck(result, AdvertisedAddress()), StatusJsonContext.Default.SelfCheckDocument);
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            return Results.Problem("the self-check was restarted by a configuration change: try again", statusCode: StatusCodes.Status409Conflict);
        }
    }

    /// <summary><c>POST /api/drain</c>, <c>/api/resume</c>: new allocations go to the alternates (or are refused), or are taken again.</summary>
    private IResult Drain(HttpContext context, bool drain)
    {
        if (Authorize(context) is { } refused)
        {
            return refused;
        }
        if (Volatile.Read(ref _options).SetDraining is not { } setDraining)
        {
            return Results.Problem("draining is not available here", statusCode: StatusCodes.Status409Conflict);
        }
        setDraining(drain);
        int alternates = _engine.Server.Options.AlternateServers.Count;
        return Results.Json(new ActionResult(!drain ? "taking new allocations again"
            : alternates > 0 ? $"draining: new allocations are sent to {alternates} alternate server(s), calls in progress go on"
            : "draining: new allocations are refused (508, no alternateServers configured), calls in progress go on"),
            StatusJsonContext.Default.ActionResult);
    }

    private string? AdvertisedAddress() => _engine.Server.Options.AdvertisedRelayAddressIPv4?.ToString();

    /// <summary>
    /// <c>POST /api/probe</c>: the relay probe (<c>edgerelay probe turn</c>) against this box's first UDP
    /// listener, with the credentials of the JSON body, which are used for this run only: never stored,
    /// logged or sent back. One probe at a time.
    /// </summary>
    private async Task<IResult> ProbeAsync(HttpContext context, CancellationToken aborted)
    {
        if (Authorize(context) is { } refused)
        {
            return refused;
        }
        ProbeRequestDocument? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(context.Request.Body, ProbeJsonContext.Default.ProbeRequestDocument, aborted)
                .ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return Results.Problem("the body must be JSON: {\"user\": \"…\", \"password\": \"…\"}", statusCode: StatusCodes.Status400BadRequest);
        }
        if (body is not { User.Length: > 0, Password.Length: > 0 })
        {
            return Results.Problem("user and password are needed: {\"user\": \"…\", \"password\": \"…\"}", statusCode: StatusCodes.Status400BadRequest);
        }
        if (body.Count is < 1 or > 200)
        {
            return Results.Problem("count must be from 1 to 200", statusCode: StatusCodes.Status400BadRequest);
        }
        if (_engine.LocalEndPoints.FirstOrDefault() is not { } listener)
        {
            return Results.Problem("this box has no UDP listener to probe", statusCode: StatusCodes.Status409Conflict);
        }
        if (Interlocked.Exchange(ref _probing, 1) == 1)
        {
            return Results.Problem("a probe is already running", statusCode: StatusCodes.Status409Conflict);
        }
        try
        {
            // A listener on every address is reached on loopback: the probe runs on the box itself.
            IPAddress address = listener.Address.Equals(IPAddress.Any) ? IPAddress.Loopback
                : listener.Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback
                : listener.Address;
            var target = new IPEndPoint(address, listener.Port);
            TurnProbeReport report = await TurnProbe.RunAsync(new TurnProbeOptions
            {
                Server = new TurnUrl(address.ToString(), target.Port, ProbeTransport.Udp),
                ResolvedEndPoint = target,
                Username = body.User,
                Password = body.Password,
                Count = body.Count ?? 20,
            }, aborted).ConfigureAwait(false);
            return Results.Json(ProbeResultDocument.From(report), ProbeJsonContext.Default.ProbeResultDocument);
        }
        finally
        {
            Volatile.Write(ref _probing, 0);
        }
    }

    /// <summary>401 without a valid bearer token, 403 when no token is configured (actions are off).</summary>
    private IResult? Authorize(HttpContext context)
    {
        // One read: a configuration applied meanwhile replaces the options whole.
        if (Volatile.Read(ref _options).AdminToken is not { } token)
        {
            return Results.Problem("actions are disabled: set status.adminToken in the configuration", statusCode: StatusCodes.Status403Forbidden);
        }
        string header = context.Request.Headers.Authorization.ToString();
        const string Bearer = "Bearer ";
        if (!header.StartsWith(Bearer, StringComparison.Ordinal)
            || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[Bearer.Length..]), Encoding.UTF8.GetBytes(token)))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.StatusCode(StatusCodes.Status401Unauthorized);
        }
        return null;
    }

    private bool IsAllowedHost(HostString host)
    {
        if (!host.HasValue)
        {
            return false;
        }
        string name = host.Host.Trim('[', ']');
        return IPAddress.TryParse(name, out _)
            || name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || Volatile.Read(ref _options).HostNames.Any(allowed => allowed.Equals(name, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The document of /api/status; the LED mirror shows what the LEDs show (identify included), if told.</summary>
    public StatusDocument Document()
    {
        StatusPageOptions options = Volatile.Read(ref _options);
        ApplianceStatus status = _model.Current;
        LedSignal led = _ledShown?.Invoke() ?? status.Led;
        DateTimeOffset now = _time.GetUtcNow();
        var counters = _engine.Server.Counters;
        return new StatusDocument
        {
            Health = status.Health.ToString(),
            Summary = status.Summary,
            Reasons = status.Reasons.Select(r => new ReasonDocument(r.Code, r.Severity.ToString(), r.BlinkCode, r.Summary)).ToList(),
            Led = new LedDocument(led.Mode.ToString(), led.FaultCode,
                [.. (options.LedOutputs?.Invoke() ?? []).Select(role => role.ToString().ToLowerInvariant())]),
            Version = options.Version,
            Backend = _engine.Backend.ToConfigName(),
            StartedAt = _startedAt,
            UptimeSeconds = (long)(now - _startedAt).TotalSeconds,
            Configuration = DescribeConfiguration(options),
            Listeners = _engine.LocalEndPoints.Select(e => new ListenerDocument("udp", e.ToString()))
                .Concat(_engine.StreamEndPoints.Select(s => new ListenerDocument(s.Protocol.ToString().ToLowerInvariant(), s.EndPoint.ToString())))
                .ToList(),
            Allocations = _engine.Server.AllocationCount,
            MaxAllocations = _engine.Server.Options.MaxAllocations,
            StreamConnections = _engine.StreamConnectionCount,
            Transports = Enum.GetValues<TransportProtocol>().Select(p => new TransportDocument(p.ToString().ToLowerInvariant(),
                _engine.Server.AllocationCountOf(p), p == TransportProtocol.Udp ? 0 : _engine.StreamConnectionCountOf(p))).ToList(),
            Relayed = new TrafficDocument(counters.PacketsToPeers, counters.PacketsFromPeers, counters.BytesToPeers, counters.BytesFromPeers,
                Math.Round(_observer.PacketsPerSecond, 1), Math.Round(_observer.BytesPerSecond, 1)),
            IceServers = options.IceServerUrls.Count == 0 ? [] : [new IceServerDocument(options.IceServerUrls)],
            Certificates = _engine.Certificates.Select(c => new CertificateDocument(c.Certificate.Subject,
                c.Certificate.NotAfter.ToUniversalTime(), Math.Round((c.Certificate.NotAfter.ToUniversalTime() - now.UtcDateTime).TotalDays, 1))).ToList(),
            LastErrors = _errors.Snapshot(),
            Draining = _engine.Server.Draining,
            AlternateServers = _engine.Server.Options.AlternateServers.Select(a => a.ToString()).ToList(),
            SelfCheck = options.SelfCheck?.Invoke() is { } selfCheck ? DescribeSelfCheck(selfCheck.Last, AdvertisedAddress()) : null,
            Clock = options.Clock?.Invoke() is { } clock ? DescribeClock(clock) : null,
            Update = options.Update?.Invoke() is { } update ? DescribeUpdate(update) : null,
        };
    }

    public static UpdateDocument DescribeUpdate(UpdateStatus update) => new(update.RunningVersion, update.Slot, UpdateStatus.PhaseName(update.Phase),
        update.Target, update.DownloadedBytes, update.Size, update.Problem,
        update.LastFailure is { } failed ? new FailedReleaseDocument(failed.Version, failed.Reason, failed.At) : null);

    private static ClockDocument DescribeClock(ClockStatus clock) => new(
        clock.State.ToString().ToLowerInvariant(), clock.Trusted, clock.MaxErrorSeconds, clock.CloudDateOffsetSeconds, clock.Source, clock.TimeSource,
        clock.Detail, clock.CheckedAt);

    private static SelfCheckDocument DescribeSelfCheck(SelfCheckResult? last, string? advertised)
    {
        if (last is not { } result)
        {
            return new SelfCheckDocument(null, "the first check is running", [], null, advertised, null, null, null, null, []);
        }
        NatBehaviorReport report = result.Report;
        return new SelfCheckDocument(result.CheckedAt, result.Verdict, result.Advice, result.PublicAddress?.ToString(), advertised,
            result.DetectedExternalAddress?.ToString(), NatBehaviorReport.Term(report.Mapping), NatBehaviorReport.Term(report.Filtering), report.Servers,
            report.Findings.Select(f => new FindingDocument(f.Name, f.Value, f.Detail)).ToList());
    }

    private static ConfigurationDocument DescribeConfiguration(StatusPageOptions options)
    {
        if (options.Cloud?.Invoke() is not { } cloud)
        {
            return new ConfigurationDocument(options.ConfigurationSource, options.ConfigurationVersion, null);
        }
        return new ConfigurationDocument(cloud.Source == "bootstrap" ? options.ConfigurationSource : cloud.Source, cloud.Version,
            new CloudDocument(cloud.Url, cloud.LastOutcome.ToString(), cloud.LastProblem, cloud.LastAttempt, cloud.LastContact, cloud.AppliedAt, cloud.SignedBy));
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync().ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
