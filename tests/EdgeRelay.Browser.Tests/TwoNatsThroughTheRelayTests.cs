using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.RegularExpressions;
using EdgeRelay.Browser.Tests.Support;
using EdgeRelay.Tests.Probe;
using EdgeRelay.Tests.Support;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace EdgeRelay.Browser.Tests;

/// <summary>
/// Issue 7, done when: "A TURN client in one namespace behind a NAT and a peer in another namespace behind a
/// different NAT reach each other only through EdgeRelay, and the relay probe passes from the client's side."
/// Nothing is simulated: <see cref="NatLab.CreateWithPeer"/> builds the networks, Linux's iptables MASQUERADE
/// does the NATs, EdgeRelay is the shipped binary in the server namespace (<see cref="TwoNatRelay"/>), and the
/// two ends of the call are two headless Chromiums, one in each private network (<see cref="ChromiumInNamespace"/>).
/// <code>
///  Chromium a ─ NAT a (MASQUERADE) ─┐                  ┌─ NAT b (MASQUERADE --random-fully) ─ Chromium b
///  192.168.99.2   10.99.0.254       └─ server: EdgeRelay ─┘      10.98.0.254               192.168.98.2
///                                  10.99.0.1 │ 10.98.0.1, ip_forward=0
/// </code>
/// NAT a maps endpoint-independently, NAT b gives every destination a fresh random port ("symmetric", RFC 4787
/// §4.1 address and port-dependent mapping, see <see cref="NatBehindLinuxNatTests"/>): the case where WebRTC
/// needs a TURN relay. Both NATs filter by address and port, and the server is the only place both reach.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class TwoNatsThroughTheRelayTests(ITestOutputHelper output)
{
    private const int Messages = 100;
    private const NatLabKind ClientNat = NatLabKind.Masquerade;
    private const NatLabKind PeerNat = NatLabKind.MasqueradeRandomFully;

    /// <summary>Bounds on steps that take a second or two when all is well; never assertions about time.</summary>
    private static readonly TimeSpan StepLimit = TimeSpan.FromSeconds(90);

    private static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ArrivalLimit = TimeSpan.FromSeconds(30);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly string[] ProbeSteps = ["binding", "allocate", "allocate-peer", "permission", "channel-bind", "echo", "release"];

    [Fact]
    public async Task Chromium_behind_a_NAT_and_Chromium_behind_a_symmetric_NAT_talk_over_a_data_channel_through_the_relay()
    {
        using TwoNatRelay relay = TwoNatRelay.Start(ClientNat, PeerNat);
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using ChromiumInNamespace a = await ChromiumInNamespace.LaunchAsync(playwright, relay.Lab.Client, relay.TempDirectory, "one-peer.html");
        await using ChromiumInNamespace b = await ChromiumInNamespace.LaunchAsync(playwright, relay.Lab.Peer, relay.TempDirectory, "one-peer.html");
        string Diagnostics(params object?[] steps) =>
            $"{string.Join('\n', steps.Select(s => JsonSerializer.Serialize(s, Json)))}\n--- browser a (client namespace):\n{a.Console}\n--- browser b (peer namespace):\n{b.Console}\n--- relay:\n{relay.Log}";
        string url = TwoNatRelay.TurnUrl("udp");
        object Ice(object? offer = null) => new { url, username = RunningRelay.User, credential = RunningRelay.Password, offer, timeoutMs = 30_000 };

        // Signalling is the test's: a's complete offer to b, b's complete answer to a.
        Description offer = await a.Step<Description>("offer", Ice(), StepLimit);
        AssertOnlyRelayedCandidates(offer, "a", Diagnostics(offer));
        Description answer = await b.Step<Description>("answer", Ice(new { type = offer.Type, sdp = offer.Sdp }), StepLimit);
        AssertOnlyRelayedCandidates(answer, "b", Diagnostics(answer));
        await a.Step<JsonElement>("accept", new { answer = new { type = answer.Type, sdp = answer.Sdp } }, StepLimit);

        Opened[] opened = await Task.WhenAll(
            a.Step<Opened>("open", new { timeoutMs = 30_000 }, StepLimit),
            b.Step<Opened>("open", new { timeoutMs = 30_000 }, StepLimit));
        Assert.True(opened.All(o => o.Open), $"the data channel did not open through {url}:\n{Diagnostics(opened[0], opened[1])}");

        IReadOnlyDictionary<string, long> before = relay.ReadMetrics();
        Talk[] talks = await Task.WhenAll(
            a.Step<Talk>("talk", new { count = Messages, timeoutMs = 10_000 }, StepLimit),
            b.Step<Talk>("talk", new { count = Messages, timeoutMs = 10_000 }, StepLimit));
        IReadOnlyDictionary<string, long> after = relay.ReadMetrics();
        output.WriteLine($"talk: a {JsonSerializer.Serialize(talks[0], Json)}, b {JsonSerializer.Serialize(talks[1], Json)}");
        foreach ((string side, Talk talk) in new[] { ("a", talks[0]), ("b", talks[1]) })
        {
            Assert.True(talk.Error is null && talk.Mismatch is null && talk.Sent == Messages && talk.Received == Messages,
                $"{side} did not send and receive all {Messages} numbered messages in order and unchanged:\n{Diagnostics(talks[0], talks[1])}");
        }

        // Each message is one datagram at least (one at a time, no bundling), and crosses the relay from one
        // allocation to the other: out of a relayed address to a peer, and into the other from a peer.
        long toPeers = Delta(before, after, ToPeers), fromPeers = Delta(before, after, FromPeers);
        output.WriteLine($"relay: {toPeers} packets to peers, {fromPeers} from peers during the talk");
        Assert.True(toPeers >= 2 * Messages, $"the relay counted {toPeers} packets to peers for 2 × {Messages} messages:\n{Diagnostics()}");
        Assert.True(fromPeers >= 2 * Messages, $"the relay counted {fromPeers} packets from peers for 2 × {Messages} messages:\n{Diagnostics()}");
        // The default peer policy let the two relayed addresses talk and had nothing else to refuse.
        Assert.All(after.Where(s => s.Key.StartsWith("edgerelay_peer_refusals_total", StringComparison.Ordinal)),
            s => Assert.True(s.Value == 0, $"{s.Key} {s.Value}:\n{Diagnostics()}"));

        SelectedPair pairA = (await a.Step<Selected>("selectedPair", null, StepLimit)).Pair
            ?? throw new Xunit.Sdk.XunitException($"a has no selected candidate pair:\n{Diagnostics()}");
        SelectedPair pairB = (await b.Step<Selected>("selectedPair", null, StepLimit)).Pair
            ?? throw new Xunit.Sdk.XunitException($"b has no selected candidate pair:\n{Diagnostics()}");
        output.WriteLine($"selected pairs: a {JsonSerializer.Serialize(pairA, Json)}, b {JsonSerializer.Serialize(pairB, Json)}");
        foreach ((string side, SelectedPair pair) in new[] { ("a", pairA), ("b", pairB) })
        {
            string why = $"{side}'s selected pair is not relay to relay through {NatLab.ServerAddress}:\n{Diagnostics(pairA, pairB)}";
            // Only a valid pair, one whose check succeeded, is nominated (RFC 8445 §8.1.1); libwebrtc shows it
            // "in-progress" again while each consent check (RFC 7675) is on its way (Connection::Ping in
            // p2p/base/connection.cc), so either state is a working pair.
            Assert.True(pair.Nominated && pair.State is ("succeeded" or "in-progress"), why);
            Assert.True(pair.BytesSent > 0 && pair.BytesReceived > 0, why);
            AssertRelayed(pair.Local, why);
            AssertRelayed(pair.Remote, why);
            Assert.True(pair.Local.RelayProtocol == "udp", why);
        }
        // Each side sends to the other's relayed address: the call runs through two allocations of one relay.
        Assert.Equal(pairA.Local.Port, pairB.Remote.Port);
        Assert.Equal(pairB.Local.Port, pairA.Remote.Port);

        // Each browser reached the relay through its own NAT, and nothing reached it from anywhere else.
        HashSet<string> clients = AllocationClients(relay.Log);
        output.WriteLine($"allocations from: {string.Join(", ", clients)}");
        Assert.True(clients.SetEquals([NatLab.NatOutsideAddress, NatLab.PeerNatOutsideAddress]),
            $"expected allocations from NAT a ({NatLab.NatOutsideAddress}) and NAT b ({NatLab.PeerNatOutsideAddress}), got {string.Join(", ", clients)}:\n{Diagnostics()}");
    }

    /// <summary>
    /// "Only through EdgeRelay": datagrams from each side to the other's NAT and to the other's own address
    /// leave their network (both NATs route them to the server) and die in the server namespace, which does not
    /// forward: ip_route_input_slow() finds forwarding off and ip_error() drops the packet silently, counting it
    /// in Ip InAddrErrors of /proc/net/snmp (net/ipv4/route.c). A counting rule on each far side (iptables(8): a
    /// rule without a target only counts) sees none of them, next to a control datagram from a neighbour that it
    /// does see, so a zero means "never arrived", not "not counted".
    /// </summary>
    [Fact]
    public void Without_the_relay_neither_side_reaches_the_other_the_server_drops_what_they_send()
    {
        const int Port = 40404;
        using NatLab lab = NatLab.CreateWithPeer(ClientNat, PeerNat);
        Assert.Equal("0", NatLab.Exec(lab.Server, "sysctl", "-n", "net.ipv4.ip_forward").Trim());
        // From outside only on the NATs: the other side's datagrams would come in on n1.
        var places = new (string Name, string Space, string[] From, string ControlFrom)[]
        {
            ("NAT a", lab.Nat, ["-i", "n1"], lab.Server),
            ("client", lab.Client, [], lab.Nat),
            ("NAT b", lab.PeerNat, ["-i", "n1"], lab.Server),
            ("peer", lab.Peer, [], lab.PeerNat),
        };
        foreach (var place in places)
        {
            NatLab.Exec(place.Space, ["iptables", "-t", "raw", "-A", "PREROUTING", .. place.From, "-p", "udp", "--dport", Text(Port)]);
        }
        var addresses = new Dictionary<string, string>
        {
            ["NAT a"] = NatLab.NatOutsideAddress,
            ["client"] = NatLab.ClientAddress,
            ["NAT b"] = NatLab.PeerNatOutsideAddress,
            ["peer"] = NatLab.PeerAddress,
        };
        long droppedBefore = InAddrErrors(lab.Server);

        // The client's side to the peer's NAT (where a server-reflexive candidate of b would be) and to the peer
        // itself (its host candidate), and the same from the peer's side.
        Send(lab.Client, NatLab.PeerNatOutsideAddress, Port, "direct from the client");
        Send(lab.Client, NatLab.PeerAddress, Port, "direct from the client");
        Send(lab.Peer, NatLab.NatOutsideAddress, Port, "direct from the peer");
        Send(lab.Peer, NatLab.ClientAddress, Port, "direct from the peer");
        foreach (var place in places)
        {
            Send(place.ControlFrom, addresses[place.Name], Port, "control");
        }

        // All four reached the server and were dropped there; the controls arrived where they were sent.
        long dropped = 0;
        bool settled = Eventually(() =>
        {
            dropped = InAddrErrors(lab.Server) - droppedBefore;
            return dropped >= 4 && places.All(p => Counted(p.Space, Port) >= 1);
        });
        string counts = string.Join(", ", places.Select(p => $"{p.Name} {Counted(p.Space, Port)}"));
        output.WriteLine($"datagrams for udp port {Port} seen: {counts}; the server dropped {dropped} (Ip InAddrErrors)");
        Assert.True(settled, $"expected 4 datagrams dropped by the server and each control seen; the server dropped {dropped}, seen: {counts}");
        foreach (var place in places)
        {
            long seen = Counted(place.Space, Port);
            Assert.True(seen == 1, $"{place.Name} ({addresses[place.Name]}) saw {seen} datagrams for udp port {Port}: one was the control, the rest came from the other side without the relay");
        }
    }

    public static TheoryData<string, string> ProbeRuns => new()
    {
        { "client", "udp" },
        { "client", "tcp" },
        // The same from behind the symmetric NAT: its two allocations come from two different mapped ports.
        { "peer", "udp" },
    };

    [Theory]
    [MemberData(nameof(ProbeRuns))]
    public void The_relay_probe_passes_from_behind_a_NAT(string side, string transport)
    {
        using TwoNatRelay relay = TwoNatRelay.Start(ClientNat, PeerNat);
        (string space, string mapped) = side == "client"
            ? (relay.Lab.Client, NatLab.NatOutsideAddress)
            : (relay.Lab.Peer, NatLab.PeerNatOutsideAddress);
        string url = TwoNatRelay.TurnUrl(transport);

        (int exit, string probe) = NatLab.RunIn(space, RunLimit,
            AotBinary.Path, "probe", "turn", url, "--user", RunningRelay.User, "--password", RunningRelay.Password);
        output.WriteLine(probe);

        string Diagnostics() => $"edgerelay probe turn {url} in the {side} namespace exited {exit}:\n{probe}\n--- relay:\n{relay.Log}";
        Assert.True(exit == 0, Diagnostics());
        List<(string Outcome, string Name, string Detail)> steps = ProbeStep().Matches(probe)
            .Select(m => (m.Groups["outcome"].Value, m.Groups["name"].Value, m.Groups["detail"].Value.TrimEnd())).ToList();
        Assert.True(steps.Select(s => s.Name).SequenceEqual(ProbeSteps) && steps.All(s => s.Outcome == "PASS"), Diagnostics());
        Assert.Matches(@"(?m)^PASS: turn:\S+ relays between two of its own allocations", probe);
        // The relay saw the probe at its NAT's address: the probe went through the NAT, not around it.
        Assert.Contains($"reflexive {mapped}:", steps[0].Detail, StringComparison.Ordinal);
        Assert.Contains($"over {transport}", steps[0].Detail, StringComparison.Ordinal);
        Assert.Contains($"relayed {NatLab.ServerAddress}:", steps[1].Detail, StringComparison.Ordinal);
        Assert.True(AllocationClients(relay.Log).SetEquals([mapped]), Diagnostics());
    }

    private const string ToPeers = "edgerelay_relayed_packets_total{direction=\"to_peer\"}";
    private const string FromPeers = "edgerelay_relayed_packets_total{direction=\"from_peer\"}";

    private static long Delta(IReadOnlyDictionary<string, long> before, IReadOnlyDictionary<string, long> after, string sample)
    {
        Assert.True(before.ContainsKey(sample) && after.ContainsKey(sample), $"/metrics has no sample {sample}");
        return after[sample] - before[sample];
    }

    private static void AssertOnlyRelayedCandidates(Description description, string side, string diagnostics)
    {
        Assert.True(description.Candidates.Length > 0, $"{side} gathered no candidate through the relay:\n{diagnostics}");
        foreach (string candidate in description.Candidates)
        {
            // candidate:FOUNDATION COMPONENT TRANSPORT PRIORITY ADDRESS PORT typ TYPE ... (RFC 8839 §5.1)
            string[] words = candidate.Split(' ');
            Assert.True(words.Length > 7 && words[4] == NatLab.ServerAddress && words[6] == "typ" && words[7] == "relay",
                $"{side} gathered {candidate}, not a relayed address of {NatLab.ServerAddress}:\n{diagnostics}");
        }
        // STUN error codes 300-699 are the relay's answers (RFC 8489 §14.8); 700-799 are the browser's own.
        Assert.True(!description.CandidateErrors.Any(e => e.ErrorCode is >= 300 and < 700), $"the relay refused {side}:\n{diagnostics}");
    }

    private static void AssertRelayed(Candidate? candidate, string why)
    {
        Assert.True(candidate is not null, why);
        Assert.True((candidate.CandidateType, candidate.Protocol, candidate.Address) == ("relay", "udp", NatLab.ServerAddress), why);
        Assert.True(candidate.Port is >= TwoNatRelay.RelayPortMin and <= TwoNatRelay.RelayPortMax, why);
    }

    /// <summary>The client addresses of the relay's "Allocation created" log lines.</summary>
    private static HashSet<string> AllocationClients(string log) =>
        AllocationCreated().Matches(log).Select(m => m.Groups["address"].Value).ToHashSet(StringComparer.Ordinal);

    private static void Send(string space, string address, int port, string text) =>
        // bash's own /dev/udp redirection (bash(1), REDIRECTION): one datagram from a connected UDP socket.
        NatLab.Exec(space, "bash", "-c", $"printf '%s' '{text}' > /dev/udp/{address}/{Text(port)}");

    /// <summary>The packets the counting rule of <paramref name="space"/> has seen.</summary>
    private static long Counted(string space, int port)
    {
        string table = NatLab.Exec(space, "iptables", "-t", "raw", "-L", "PREROUTING", "-n", "-v", "-x");
        string line = table.Split('\n').Single(l => l.Contains($"dpt:{Text(port)}", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);
    }

    /// <summary>Ip InAddrErrors of the namespace: datagrams it received for an address that is not its own and did not forward.</summary>
    private static long InAddrErrors(string space)
    {
        string[] ip = NatLab.Exec(space, "cat", "/proc/net/snmp").Split('\n').Where(l => l.StartsWith("Ip: ", StringComparison.Ordinal)).ToArray();
        int column = ip.Length == 2 ? Array.IndexOf(ip[0].Split(' '), "InAddrErrors") : -1;
        Assert.True(column > 0, $"/proc/net/snmp has no Ip InAddrErrors:\n{string.Join('\n', ip)}");
        return long.Parse(ip[1].Split(' ')[column], CultureInfo.InvariantCulture);
    }

    private static bool Eventually(Func<bool> condition)
    {
        DateTime deadline = DateTime.UtcNow + ArrivalLimit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            Thread.Sleep(100);
        }
        return true;
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"(?m)^(?<outcome>PASS|FAIL|SKIP)  (?<name>[a-z-]+) +(?:\d+ ms|-)  +(?<detail>.*)$")]
    private static partial Regex ProbeStep();

    [GeneratedRegex(@"Allocation created: client (?:udp|tcp|tls) (?<address>[0-9.]+):\d+ -> ")]
    private static partial Regex AllocationCreated();

    private sealed record Description(string Type, string Sdp, string[] Candidates, CandidateError[] CandidateErrors);

    private sealed record CandidateError(int ErrorCode, string? ErrorText, string? Url, string? Address, int? Port);

    private sealed record Opened(bool Open, string? Error, string Connection, string Ice, string[] States);

    private sealed record Talk(int Sent, int Received, string? Mismatch, string? Error);

    private sealed record Selected(SelectedPair? Pair);

    private sealed record SelectedPair(string State, bool Nominated, long BytesSent, long BytesReceived, Candidate Local, Candidate Remote);

    private sealed record Candidate(string CandidateType, string Protocol, string? RelayProtocol, string? Address, int? Port, string? Url);
}
