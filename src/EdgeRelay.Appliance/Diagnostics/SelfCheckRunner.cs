using EdgeRelay.Appliance.Status;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>
/// The box's self-check: at start and every <see cref="SelfCheckOptions.Interval"/>, the NAT behaviour
/// probe runs from the relay's address against the configured STUN servers; <see cref="SelfCheck"/> judges
/// the report, and the runner raises or clears D7, D8 and D9 in the status model. It never throws from its
/// loop: a check that fails is a finding (D9), and the next one comes at the next interval.
/// </summary>
public sealed class SelfCheckRunner : IAsyncDisposable
{
    /// <summary>The reasons this runner owns: it clears them when it stops, since nobody else would.</summary>
    private static readonly StatusReason[] Owned =
        [StatusReasons.ExternalAddressMismatch, StatusReasons.NatUnsuitable, StatusReasons.PublicAddressUnverified];

    private readonly SelfCheckOptions _options;
    private readonly StatusModel _model;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<NatBehaviorOptions, CancellationToken, Task<NatBehaviorReport>> _probe;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Task<SelfCheckResult>? _inflight;
    private SelfCheckResult? _last;
    private Task? _loop;

    /// <param name="probe">The probe; <see cref="NatBehaviorProbe.RunAsync"/> unless a test gives another.</param>
    public SelfCheckRunner(SelfCheckOptions options, StatusModel model, TimeProvider time, ILogger logger,
        Func<NatBehaviorOptions, CancellationToken, Task<NatBehaviorReport>>? probe = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(options.Servers.Count);
        _options = options;
        _model = model;
        _time = time;
        _logger = logger;
        _probe = probe ?? NatBehaviorProbe.RunAsync;
    }

    public SelfCheckOptions Options => _options;

    /// <summary>The last check's result; null before the first one ends.</summary>
    public SelfCheckResult? Last => Volatile.Read(ref _last);

    /// <summary>After every check, outside any lock; an exception it throws is logged, and the checks go on.</summary>
    public event Action<SelfCheckResult>? Checked;

    public void Start() => _loop ??= Task.Run(LoopAsync);

    private async Task LoopAsync()
    {
        try
        {
            while (true)
            {
                try
                {
                    await CheckAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A bug in judging or reporting must not end the checks: the next interval tries again.
                    SelfCheckLog.ProbeFailed(_logger, e);
                }
                await Task.Delay(_options.Interval, _time, _stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// A check now, or the one that is running: checks never overlap, and a caller who asks during one gets
    /// its result. <paramref name="cancellationToken"/> stops the wait, not the check. Once the runner is
    /// stopped, <see cref="OperationCanceledException"/>.
    /// </summary>
    public Task<SelfCheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        Task<SelfCheckResult> check;
        lock (_gate)
        {
            // Under the lock that StopAsync takes too: no check starts after it has seen the last one.
            _stop.Token.ThrowIfCancellationRequested();
            if (_inflight is null || _inflight.IsCompleted)
            {
                _inflight = Task.Run(RunCheckAsync);
            }
            check = _inflight;
        }
        return check.WaitAsync(cancellationToken);
    }

    private async Task<SelfCheckResult> RunCheckAsync()
    {
        NatBehaviorReport report = await ProbeAsync(_stop.Token).ConfigureAwait(false);
        SelfCheckResult result = SelfCheck.Evaluate(report, _options, _time.GetUtcNow());
        SelfCheckResult? previous = Volatile.Read(ref _last);
        Volatile.Write(ref _last, result);
        // Every owned reason is set or cleared: a runner that follows another takes over its reasons as they are.
        foreach (StatusReason reason in Owned)
        {
            _model.Set(reason, result.Problems.Contains(reason));
        }
        Log(previous, result);
        try
        {
            Checked?.Invoke(result);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            SelfCheckLog.CheckedFailed(_logger, e);
        }
        return result;
    }

    /// <summary>
    /// The servers in order, each as the first until one gives a mapped address (a server that is down
    /// must not make the check fail while another answers); the one after it is the probe's second server.
    /// </summary>
    private async Task<NatBehaviorReport> ProbeAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<StunServerAddress> servers = _options.Servers;
        NatBehaviorReport? first = null;
        for (int i = 0; i < servers.Count; i++)
        {
            NatBehaviorReport report;
            try
            {
                report = await _probe(new NatBehaviorOptions
                {
                    Servers = [.. servers.Skip(i), .. servers.Take(i)],
                    Timeout = _options.Timeout,
                    Family = _options.LocalAddress.AddressFamily,
                    LocalAddress = _options.LocalAddress,
                    LocalPorts = (_options.RelayPortMin, _options.RelayPortMax),
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The probe does not throw for what the network does; anything else is a bug to see in the log, not a dead loop.
                SelfCheckLog.ProbeFailed(_logger, e);
                report = new NatBehaviorReport
                {
                    Servers = servers[i].ToString(),
                    Tested = false,
                    UdpWorks = false,
                    Findings = [new NatFinding(NatBehaviorReport.UdpLine, "not tested", $"the check failed: {e.Message}")],
                };
            }
            if (report.Completed)
            {
                return report;
            }
            first ??= report;
        }
        return first!;
    }

    /// <summary>A verdict that changes is news (a warning while something is wrong); the same again is debug.</summary>
    private void Log(SelfCheckResult? previous, SelfCheckResult result)
    {
        bool same = previous is not null && previous.Verdict == result.Verdict;
        string advice = result.Advice.Count == 0 ? string.Empty : " " + string.Join(" ", result.Advice);
        if (same)
        {
            SelfCheckLog.Unchanged(_logger, result.Verdict);
        }
        else if (result.Problems.Count == 0)
        {
            SelfCheckLog.Passed(_logger, result.Verdict, advice);
        }
        else
        {
            SelfCheckLog.Problem(_logger, result.Verdict, advice);
        }
    }

    public ValueTask DisposeAsync() => StopAsync(clearReasons: true);

    /// <summary>
    /// Stops the loop and waits for a check that runs. <paramref name="clearReasons"/> false leaves D7-D9 as
    /// they are, for a runner that takes over (a configuration changed): the LEDs do not flap until its
    /// first check says otherwise.
    /// </summary>
    public async ValueTask StopAsync(bool clearReasons)
    {
        Task? inflight;
        lock (_gate)
        {
            _stop.Cancel();
            inflight = _inflight;
        }
        foreach (Task? task in new[] { _loop, inflight })
        {
            try
            {
                if (task is not null)
                {
                    await task.ConfigureAwait(false);
                }
            }
            catch (Exception)
            {
                // Cancelled by the stop, or a failure its caller (the page's check now) was told of already.
            }
        }
        if (clearReasons)
        {
            foreach (StatusReason reason in Owned)
            {
                _model.Clear(reason);
            }
        }
        // _stop stays undisposed: a CheckAsync that comes after (the page's "check now" racing a restart)
        // must find it cancelled, not disposed.
    }
}

internal static partial class SelfCheckLog
{
    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "self-check: {Verdict}.{Advice}")]
    public static partial void Passed(ILogger logger, string verdict, string advice);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "self-check: {Verdict}.{Advice}")]
    public static partial void Problem(ILogger logger, string verdict, string advice);

    [LoggerMessage(EventId = 42, Level = LogLevel.Debug, Message = "self-check: unchanged, {Verdict}")]
    public static partial void Unchanged(ILogger logger, string verdict);

    [LoggerMessage(EventId = 43, Level = LogLevel.Error, Message = "self-check: the probe failed unexpectedly; checking goes on")]
    public static partial void ProbeFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 44, Level = LogLevel.Error, Message = "self-check: acting on a result failed; checking goes on")]
    public static partial void CheckedFailed(ILogger logger, Exception exception);
}
