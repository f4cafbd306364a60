using System.Collections.Concurrent;
using System.Net;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Appliance.Status;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Appliance.Tests.Diagnostics;

/// <summary>
/// <see cref="SelfCheckRunner"/>: which servers it asks, what it reports to the status model, and that its loop
/// survives what goes wrong. The probe is replaced by a script here; the real one runs in the namespace tests.
/// </summary>
public sealed class SelfCheckRunnerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly StatusModel _model = new(TimeProvider.System);
    private readonly ConcurrentQueue<NatBehaviorOptions> _asked = new();

    private static readonly StunServerAddress Down = new("192.0.2.1", 3478);
    private static readonly StunServerAddress Up = new("192.0.2.2", 3478);

    private static NatBehaviorReport Answer(string servers, NatMapping mapping) => new()
    {
        Servers = servers,
        UdpWorks = true,
        MappedAddress = "203.0.113.7:50000",
        MappedIPAddress = IPAddress.Parse("203.0.113.7"),
        BehindNat = true,
        Mapping = mapping,
        Filtering = NatFiltering.EndpointIndependent,
        PortPreserved = true,
        Findings = [new NatFinding("udp", "yes", "test I")],
    };

    private static NatBehaviorReport Silence(string servers) => new()
    {
        Servers = servers,
        UdpWorks = false,
        Findings = [new NatFinding("udp", "no answer", "nothing came back")],
    };

    /// <summary>Answers as the first server of each run says: <see cref="Down"/> is silent, <see cref="Up"/> sees <paramref name="mapping"/>.</summary>
    private Func<NatBehaviorOptions, CancellationToken, Task<NatBehaviorReport>> Network(NatMapping mapping) => (options, _) =>
    {
        _asked.Enqueue(options);
        string servers = string.Join(", ", options.Servers);
        return Task.FromResult(options.Servers[0] == Down ? Silence(servers) : Answer(servers, mapping));
    };

    private SelfCheckRunner Runner(Func<NatBehaviorOptions, CancellationToken, Task<NatBehaviorReport>> probe, ExternalAddressMode mode,
        TimeSpan? interval = null, params StunServerAddress[] servers) =>
        new(new SelfCheckOptions
        {
            Servers = servers,
            Interval = interval ?? TimeSpan.FromHours(1),
            LocalAddress = IPAddress.Parse("192.168.1.20"),
            RelayPortMin = 50000,
            RelayPortMax = 50999,
            ExternalAddress = mode,
            Advertised = IPAddress.Parse("198.51.100.9"),
        }, _model, TimeProvider.System, NullLogger.Instance, probe);

    [Fact]
    public async Task A_server_that_is_down_is_passed_over_for_the_next_one_which_runs_first_with_the_rest_behind_it()
    {
        await using SelfCheckRunner runner = Runner(Network(NatMapping.EndpointIndependent), ExternalAddressMode.Auto, null, Down, Up);

        SelfCheckResult result = await runner.CheckAsync(CancellationToken.None);

        Assert.Empty(result.Problems);
        Assert.Equal(IPAddress.Parse("203.0.113.7"), result.DetectedExternalAddress);
        NatBehaviorOptions[] asked = [.. _asked];
        Assert.Equal([[Down, Up], [Up, Down]], asked.Select(o => o.Servers.ToArray()));
        // From the relay's address and port range: the way relayed datagrams leave.
        Assert.All(asked, o => Assert.Equal(IPAddress.Parse("192.168.1.20"), o.LocalAddress));
        Assert.All(asked, o => Assert.Equal((50000, 50999), o.LocalPorts));
    }

    [Fact]
    public async Task Its_reasons_go_to_the_status_model_change_with_the_next_check_and_are_cleared_when_it_stops()
    {
        NatMapping mapping = NatMapping.EndpointIndependent;
        var runner = Runner((options, token) => Network(mapping)(options, token), ExternalAddressMode.Configured, null, Up);

        await runner.CheckAsync(CancellationToken.None);
        Assert.Equal([StatusReasons.ExternalAddressMismatch], _model.Current.Reasons);
        Assert.Equal(LedMode.Degraded, WhenReady().Led.Mode);

        mapping = NatMapping.AddressAndPortDependent;
        await runner.CheckAsync(CancellationToken.None);
        Assert.Equal([StatusReasons.ExternalAddressMismatch, StatusReasons.NatUnsuitable], _model.Current.Reasons);

        await runner.DisposeAsync();
        Assert.Empty(_model.Current.Reasons);
    }

    private ApplianceStatus WhenReady()
    {
        _model.SetStarting(false);
        return _model.Current;
    }

    [Fact]
    public async Task A_check_asked_for_while_one_runs_joins_it_and_a_runner_that_hands_over_keeps_its_reasons()
    {
        var release = new TaskCompletionSource();
        int probes = 0;
        var runner = Runner(async (options, token) =>
        {
            Interlocked.Increment(ref probes);
            await release.Task.WaitAsync(token);
            return await Network(NatMapping.AddressAndPortDependent)(options, token);
        }, ExternalAddressMode.Configured, null, Up);

        Task<SelfCheckResult> first = runner.CheckAsync(CancellationToken.None);
        Task<SelfCheckResult> second = runner.CheckAsync(CancellationToken.None);
        release.SetResult();

        Assert.Same(await first, await second);
        Assert.Equal(1, probes);
        await runner.StopAsync(clearReasons: false);
        Assert.Equal([StatusReasons.ExternalAddressMismatch, StatusReasons.NatUnsuitable], _model.Current.Reasons);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => runner.CheckAsync(CancellationToken.None));
    }

    [Fact]
    public async Task No_server_answering_is_D9_with_the_first_servers_finding()
    {
        await using SelfCheckRunner runner = Runner(Network(NatMapping.EndpointIndependent), ExternalAddressMode.NotSet, null, Down);

        SelfCheckResult result = await runner.CheckAsync(CancellationToken.None);

        Assert.Equal([StatusReasons.PublicAddressUnverified], _model.Current.Reasons);
        Assert.Contains("nothing came back", result.Verdict, StringComparison.Ordinal);
        Assert.Same(result, runner.Last);
    }

    [Fact]
    public async Task The_loop_checks_at_start_and_every_interval_and_a_probe_that_throws_is_a_finding_not_the_end()
    {
        int runs = 0;
        var checks = new BlockingCollection<SelfCheckResult>();
        await using SelfCheckRunner runner = Runner((options, token) =>
            Interlocked.Increment(ref runs) == 2 ? throw new InvalidOperationException("a bug") : Network(NatMapping.EndpointIndependent)(options, token),
            ExternalAddressMode.Auto, TimeSpan.FromMilliseconds(20), Up);
        runner.Checked += checks.Add;

        runner.Start();

        Assert.True(checks.TryTake(out SelfCheckResult? first, Bound));
        Assert.Empty(first!.Problems);
        Assert.True(checks.TryTake(out SelfCheckResult? second, Bound));
        Assert.Equal([StatusReasons.PublicAddressUnverified], second!.Problems);
        Assert.Contains("a bug", second.Verdict, StringComparison.Ordinal);
        Assert.True(checks.TryTake(out SelfCheckResult? third, Bound));
        Assert.Empty(third!.Problems);
    }
}
