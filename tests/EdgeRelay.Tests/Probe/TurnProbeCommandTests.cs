using System.Globalization;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using EdgeRelay.Tests.Support;
using Result = EdgeRelay.Tests.Support.BinaryRun;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Tests.Probe;

/// <summary>
/// <c>edgerelay probe turn</c> as a field technician runs it: the shipped Native AOT binary against a real
/// relay (EdgeRelay in this process, under its default peer policy, and coturn's turnserver), exit codes
/// 0 / 1 / 64, one line per step, and never a password or secret in what it prints.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class TurnProbeCommandTests : IDisposable
{
    /// <summary>A bound on a run that takes well under a second when all is well; never an assertion about time.</summary>
    private static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(90);

    private static readonly string[] Steps = ["binding", "allocate", "allocate-peer", "permission", "channel-bind", "echo", "release"];

    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-probe-").FullName;

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static Result Edgerelay(string? stdin, params string[] args) => AotBinary.Run(args, RunLimit, stdin);

    private static Result Probe(params string[] args) => Edgerelay(null, ["probe", "turn", .. args]);

    /// <summary>The step lines, in order: outcome, name, detail.</summary>
    private static List<(string Outcome, string Name, string Detail)> StepLines(Result result) =>
        StepLine().Matches(result.Stdout).Select(m => (m.Groups["outcome"].Value, m.Groups["name"].Value, m.Groups["detail"].Value.TrimEnd())).ToList();

    /// <summary>Every step passed, in order, the echo lost nothing and printed its RTT figures, and the verdict says PASS.</summary>
    private static void AssertEveryStepPassed(Result result, int count)
    {
        Assert.True(result.Exit == 0, result.ToString());
        var lines = StepLines(result);
        Assert.Equal(Steps, lines.Select(l => l.Name));
        Assert.All(lines, l => Assert.True(l.Outcome == "PASS", result.ToString()));
        string echo = lines.Single(l => l.Name == "echo").Detail;
        Match figures = EchoFigures().Match(echo);
        Assert.True(figures.Success, result.ToString());
        Assert.Equal(Text(count), figures.Groups["sent"].Value);
        Assert.Equal(Text(count), figures.Groups["received"].Value);
        Assert.Equal("0", figures.Groups["lost"].Value);
        Assert.Matches(@"(?m)^PASS: turns?:\S+ relays between two of its own allocations", result.Stdout);
    }

    private static void AssertFailedAt(Result result, string step, string detailPart)
    {
        Assert.True(result.Exit == 1, result.ToString());
        var lines = StepLines(result);
        Assert.Equal(Steps, lines.Select(l => l.Name));
        int failed = Array.IndexOf(Steps, step);
        Assert.All(lines.Take(failed), l => Assert.Equal("PASS", l.Outcome));
        Assert.Equal("FAIL", lines[failed].Outcome);
        Assert.Contains(detailPart, lines[failed].Detail, StringComparison.Ordinal);
        Assert.All(lines.Skip(failed + 1), l => Assert.Equal("SKIP", l.Outcome));
        Assert.Contains($"FAIL: ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"failed at {step}: {detailPart}", result.Stdout, StringComparison.Ordinal);
    }

    private RunningRelay StartRelay() => RunningRelay.StartAllTransports(_directory, allowLoopback: false);

    private static int TlsPort(RunningRelay relay) => relay.Configuration.Listeners[2].Endpoint.Port;

    private static string[] Alice => ["--user", RunningRelay.User, "--password", RunningRelay.Password];

    /// <summary>
    /// The relayed addresses are 127.0.0.1 here, which the default policy refuses as a peer; the relay's
    /// own relayed addresses within its port range are the exception (README, "The peer policy"), and
    /// that is what lets the probe's two allocations talk.
    /// </summary>
    private static void AssertRelayedThroughItsOwnAddresses(RunningRelay relay, int count)
    {
        Assert.False(relay.Configuration.Peers.AllowLoopback);
        Assert.True(relay.Engine.Server.Counters.PacketsToPeers >= 2 * count, $"packets to peers: {relay.Engine.Server.Counters.PacketsToPeers}");
        Assert.Equal(0, relay.Engine.Server.Counters.GetPeerRefusals(PeerDecision.RefusedLoopback));
    }

    [Fact]
    public async Task Probe_over_udp_passes_every_step_under_the_default_peer_policy_and_releases_its_allocations()
    {
        await using RunningRelay relay = StartRelay();
        Result result = Probe([$"turn:127.0.0.1:{relay.Port}?transport=udp", .. Alice, "--count", "25"]);
        AssertEveryStepPassed(result, 25);
        Assert.Contains("relayed 127.0.0.1:", result.Stdout, StringComparison.Ordinal);
        AssertRelayedThroughItsOwnAddresses(relay, 25);
        Assert.Equal(0, relay.Engine.Server.AllocationCount);
    }

    [Fact]
    public async Task Probe_over_tcp_passes_every_step()
    {
        await using RunningRelay relay = StartRelay();
        Result result = Probe([$"turn:127.0.0.1:{relay.Port}?transport=tcp", .. Alice]);
        AssertEveryStepPassed(result, 20);
        Assert.Contains("over tcp", result.Stdout, StringComparison.Ordinal);
        AssertRelayedThroughItsOwnAddresses(relay, 20);
    }

    [Fact]
    public async Task Probe_over_tls_passes_with_insecure_against_a_self_signed_box()
    {
        await using RunningRelay relay = StartRelay();
        Result result = Probe([$"turns:127.0.0.1:{TlsPort(relay)}", "--insecure", .. Alice]);
        AssertEveryStepPassed(result, 20);
        Assert.Contains("over tls", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_over_tls_passes_trusting_the_box_certificate_as_ca_and_checking_its_name()
    {
        await using RunningRelay relay = StartRelay();
        Result result = Probe([$"turns:localhost:{TlsPort(relay)}?transport=tcp", "--ca", Path.Combine(_directory, "tls.crt"), .. Alice]);
        AssertEveryStepPassed(result, 20);
    }

    [Fact]
    public async Task Probe_over_tls_without_trust_fails_at_binding_and_says_how_to_trust_the_box()
    {
        await using RunningRelay relay = StartRelay();
        Result result = Probe([$"turns:127.0.0.1:{TlsPort(relay)}", .. Alice]);
        AssertFailedAt(result, "binding", "TLS: the server's certificate is not trusted");
        Assert.Contains("--ca FILE, or --insecure", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_with_a_rest_api_secret_passes_and_prints_neither_secret_nor_password()
    {
        await using RunningRelay relay = StartRelay();
        Result result = Probe([$"turn:127.0.0.1:{relay.Port}", "--secret", RunningRelay.SharedSecret, "--user", "field-tech"]);
        AssertEveryStepPassed(result, 20);
        Assert.Matches(@"as \d+:field-tech \(TURN REST credential\)", result.Stdout);
        Assert.DoesNotContain(RunningRelay.SharedSecret, result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_reads_the_password_from_standard_input_when_told_to()
    {
        await using RunningRelay relay = StartRelay();
        Result result = Edgerelay(RunningRelay.Password, "probe", "turn", $"turn:127.0.0.1:{relay.Port}", "--user", RunningRelay.User,
            "--password", "-", "--count", "3");
        AssertEveryStepPassed(result, 3);
        Assert.DoesNotContain(RunningRelay.Password, result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_fails_at_allocate_with_401_and_is_never_printed()
    {
        const string Wrong = "not-the-password-at-all";
        await using RunningRelay relay = StartRelay();
        Result result = Probe($"turn:127.0.0.1:{relay.Port}", "--user", RunningRelay.User, "--password", Wrong);
        AssertFailedAt(result, "allocate", "401 Unauthenticated: wrong user name or password");
        Assert.DoesNotContain(Wrong, result.All, StringComparison.Ordinal);
        Assert.Equal(0, relay.Engine.Server.AllocationCount);
    }

    [Fact]
    public void A_port_with_nothing_listening_fails_at_binding_with_no_answer_in_time()
    {
        int port = Ports.FreeUdpPort();
        Result result = Probe([$"turn:127.0.0.1:{port}", .. Alice, "--timeout", "1"]);
        AssertFailedAt(result, "binding", "no answer to Binding within 1 s over udp");
    }

    [Fact]
    public void A_tcp_port_with_nothing_listening_fails_at_binding_with_connection_refused()
    {
        int port = Ports.FreeUdpPort();
        Result result = Probe([$"turn:127.0.0.1:{port}?transport=tcp", .. Alice, "--timeout", "1"]);
        AssertFailedAt(result, "binding", "connection refused");
    }

    [Theory]
    [InlineData("probe")]
    [InlineData("probe", "stun")]
    [InlineData("probe", "turn")]
    [InlineData("probe", "turn", "stun:127.0.0.1:3478", "--user", "u", "--password", "p")]
    [InlineData("probe", "turn", "turn://127.0.0.1:3478", "--user", "u", "--password", "p")]
    [InlineData("probe", "turn", "turn:127.0.0.1:0", "--user", "u", "--password", "p")]
    [InlineData("probe", "turn", "turn:::1:3478", "--user", "u", "--password", "p")]
    [InlineData("probe", "turn", "turns:127.0.0.1?transport=udp", "--user", "u", "--password", "p")]
    [InlineData("probe", "turn", "turn:127.0.0.1")]
    [InlineData("probe", "turn", "turn:127.0.0.1", "--password", "p")]
    [InlineData("probe", "turn", "turn:127.0.0.1", "--user", "u", "--password", "p", "--secret", "s")]
    [InlineData("probe", "turn", "turn:127.0.0.1", "--user", "u", "--password", "p", "--insecure")]
    [InlineData("probe", "turn", "turns:127.0.0.1", "--user", "u", "--password", "p", "--insecure", "--ca", "/nonexistent")]
    [InlineData("probe", "turn", "turns:127.0.0.1", "--user", "u", "--password", "p", "--ca", "/nonexistent/ca.pem")]
    [InlineData("probe", "turn", "turn:127.0.0.1", "--user", "u", "--password", "p", "--count", "0")]
    [InlineData("probe", "turn", "turn:127.0.0.1", "--user", "u", "--password", "p", "--timeout", "soon")]
    [InlineData("probe", "turn", "turn:127.0.0.1", "--user", "u", "--password")]
    public void Usage_errors_exit_64_and_say_what_is_wrong(params string[] args)
    {
        Result result = Edgerelay(null, args);
        Assert.True(result.Exit == 64, result.ToString());
        Assert.Contains("Usage: edgerelay probe turn URL", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Stdout);
    }

    [Fact]
    public void A_mistyped_option_is_named_without_the_secret_that_follows_it()
    {
        Result result = Edgerelay(null, "probe", "turn", "turn:127.0.0.1", "--user", "u", "--pasword=hunter2-secret");
        Assert.Equal(64, result.Exit);
        Assert.Contains("unknown option \"--pasword\"", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-secret", result.All, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_exits_0_and_the_main_usage_mentions_the_probe()
    {
        Result help = Edgerelay(null, "probe", "turn", "--help");
        Assert.Equal(0, help.Exit);
        Assert.Contains("--insecure", help.Stdout, StringComparison.Ordinal);
        Result main = Edgerelay(null, "--help");
        Assert.Contains("edgerelay probe turn URL", main.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("udp")]
    [InlineData("tcp")]
    public void Probe_passes_against_coturn_turnserver(string transport)
    {
        using CoturnServer coturn = CoturnServer.Start(allowLoopbackPeers: true);
        Result result = Probe($"turn:127.0.0.1:{coturn.PortText}?transport={transport}", "--user", CoturnServer.User, "--password", CoturnServer.Password);
        AssertEveryStepPassed(result, 20);
        Assert.Contains("Coturn-", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(CoturnServer.Password, result.All, StringComparison.Ordinal);
    }

    [Fact]
    public void Coturn_refuses_two_of_its_own_loopback_allocations_as_peers_without_allow_loopback_peers()
    {
        using CoturnServer coturn = CoturnServer.Start(allowLoopbackPeers: false);
        Result result = Probe($"turn:127.0.0.1:{coturn.PortText}", "--user", CoturnServer.User, "--password", CoturnServer.Password, "--count", "3");
        AssertFailedAt(result, "permission", "403 Forbidden: the relay refused the peer address");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [GeneratedRegex(@"(?m)^(?<outcome>PASS|FAIL|SKIP)  (?<name>[a-z-]+) +(?:\d+ ms|-)  +(?<detail>.*)$")]
    private static partial Regex StepLine();

    [GeneratedRegex(@"^sent (?<sent>\d+), received (?<received>\d+), lost (?<lost>\d+), RTT p50 \d+\.\d+ ms, p99 \d+\.\d+ ms, max \d+\.\d+ ms$")]
    private static partial Regex EchoFigures();
}
