using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using EdgeRelay.Browser.Tests.Support;
using EdgeRelay.Tests.Support;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace EdgeRelay.Browser.Tests;

/// <summary>
/// A real browser as the web developer's users have it: headless Chromium opens two RTCPeerConnections
/// in one page, each allowed only relayed candidates (iceTransportPolicy "relay"), against the real relay
/// started by the test, and talks over a data channel through it.
/// </summary>
public sealed class TwoPeersThroughTheRelayTests(Chromium chromium, ITestOutputHelper output) : IClassFixture<Chromium>
{
    private const int Messages = 100;
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(30);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The TURN URL of iceServers ({port}: the relay's listener for that transport), and the protocol
    /// between browser and relay that Chromium must report for it (RTCIceCandidateStats.relayProtocol).
    /// The relayed candidates themselves are UDP in every row (TURN allocates UDP relays).
    /// </summary>
    public static TheoryData<string, string> TurnServers => new()
    {
        { "turn:127.0.0.1:{port}?transport=udp", "udp" },
        { "turn:127.0.0.1:{port}?transport=tcp", "tcp" },
        { "turns:127.0.0.1:{port}?transport=tcp", "tls" },
    };

    [Theory]
    [MemberData(nameof(TurnServers))]
    public async Task Chromium_connects_two_peers_only_through_the_relay_and_echoes_messages_over_a_data_channel(string turnUrl, string relayProtocol)
    {
        // The default peer policy: the two relayed addresses are the relay's own, which it allows.
        // Next to the screenshots, written anew by every run.
        string certificates = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "browser-interop", TurnUrl.Slug(turnUrl))).FullName;
        await using RunningRelay relay = RunningRelay.StartAllTransports(certificates, allowLoopback: false);
        using StaticPageServer server = StaticPageServer.Start();
        string url = TurnUrl.Resolve(turnUrl, relay);
        TurnCounters counters = relay.Engine.Server.Counters;
        string advertised = relay.Engine.Server.Options.AdvertisedRelayAddressIPv4!.ToString();

        await using IBrowserContext context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1100, Height = 900 },
        });
        IPage page = await context.NewPageAsync();
        var console = new StringBuilder();
        page.Console += (_, message) => { lock (console) { console.AppendLine($"console.{message.Type}: {message.Text}"); } };
        page.PageError += (_, error) => { lock (console) { console.AppendLine($"page error: {error}"); } };
        string Diagnostics(object? step) => $"{JsonSerializer.Serialize(step, Json)}\n{console}";

        string screenshot = Path.Combine(AppContext.BaseDirectory, "browser-interop", $"{TurnUrl.Slug(turnUrl)}.png");
        try
        {
            await page.GotoAsync(server.PageAddress("two-peers.html").ToString());

            ConnectResult connect = await Step<ConnectResult>(page, "connect",
                new { url, username = RunningRelay.User, credential = RunningRelay.Password, timeoutMs = 20_000 });
            output.WriteLine($"connect: {JsonSerializer.Serialize(connect with { Log = [] }, Json)}");
            Assert.True(connect.Open, $"the data channel did not open through {url}:\n{Diagnostics(connect)}");
            Assert.All(connect.CandidatesA.Concat(connect.CandidatesB), c => Assert.Contains(" typ relay", c, StringComparison.Ordinal));
            // STUN error codes 300-699 are the relay's answers (RFC 8489 §14.8); 700-799 are the browser's own
            // (RFC 8445 / WebRTC: e.g. 701, a TURN server of another address family than one of its networks).
            Assert.DoesNotContain(connect.CandidateErrors, e => e.ErrorCode is >= 300 and < 700);

            long toPeers = counters.PacketsToPeers, fromPeers = counters.PacketsFromPeers;
            ExchangeResult exchange = await Step<ExchangeResult>(page, "exchange", new { count = Messages, timeoutMs = 5_000 });
            long toPeersDuring = counters.PacketsToPeers - toPeers, fromPeersDuring = counters.PacketsFromPeers - fromPeers;
            output.WriteLine($"exchange: {JsonSerializer.Serialize(exchange, Json)}; relay: {toPeersDuring} packets to peers, {fromPeersDuring} from peers meanwhile");
            await page.EvaluateAsync("note => window.edgeRelay.note(note)", new
            {
                key = "relay (EdgeRelay's counters)",
                value = $"{toPeersDuring} packets to peers, {fromPeersDuring} from peers during the exchange; {counters.AllocationsCreated} allocations, {counters.ChannelsBound} channels",
                ok = toPeersDuring >= 2 * Messages && fromPeersDuring >= 2 * Messages,
            });
            Assert.True(exchange.Error is null && exchange.Echoed == Messages && exchange.Mismatched == 0,
                $"not every message came back unchanged:\n{Diagnostics(exchange)}");
            // Each message and each echo is one datagram at least (one at a time, no bundling), and each
            // crosses the relay once from a client to a peer (the other allocation) and once back out.
            Assert.True(toPeersDuring >= 2 * Messages, $"relay counted {toPeersDuring} packets to peers for {Messages} messages and their echoes");
            Assert.True(fromPeersDuring >= 2 * Messages, $"relay counted {fromPeersDuring} packets from peers for {Messages} messages and their echoes");

            IReadOnlyList<AllocationSnapshot> allocations = Allocations(relay);
            output.WriteLine($"allocations: {string.Join("; ", allocations.Select(a => a.Description))}");
            // Chromium reached the relay from loopback only: nothing of the call left this machine.
            Assert.All(allocations, a => Assert.True(System.Net.IPAddress.IsLoopback(a.Client.Address), a.Description));

            SelectedPairs pairs = await Step<SelectedPairs>(page, "selectedPairs", null);
            output.WriteLine($"selected pairs: {JsonSerializer.Serialize(pairs, Json)}");
            foreach ((string name, CandidatePair? pair) in new[] { ("a", pairs.A), ("b", pairs.B) })
            {
                Assert.True(pair is not null, $"peer {name} has no selected candidate pair:\n{Diagnostics(pairs)}");
                // The selected pair is nominated, so its check succeeded (RFC 8445 §8.1.1); Chromium shows it
                // "in-progress" again while a consent check (RFC 7675) is on its way, so either state is right.
                Assert.True(pair.Nominated && pair.State is ("succeeded" or "in-progress"), $"peer {name}: {JsonSerializer.Serialize(pair, Json)}");
                AssertRelayed(pair.Local, $"{name} local", advertised, relay);
                AssertRelayed(pair.Remote, $"{name} remote", advertised, relay);
                Assert.Equal(relayProtocol, pair.Local.RelayProtocol);
            }
            // Each side's remote candidate is the other side's relayed address.
            Assert.Equal(pairs.A!.Local.Port, pairs.B!.Remote.Port);
            Assert.Equal(pairs.B.Local.Port, pairs.A.Remote.Port);

            Assert.True(counters.AllocationsCreated >= 2, $"relay counted {counters.AllocationsCreated} allocations");
            foreach (PeerDecision refusal in Enum.GetValues<PeerDecision>().Where(d => !d.IsAllowed()))
            {
                Assert.True(counters.GetPeerRefusals(refusal) == 0, $"the relay refused a peer ({refusal}):\n{console}");
            }
        }
        finally
        {
            // For humans; nothing is asserted on pixels. A page that cannot be shown any more must not hide
            // the failure that brought us here.
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
                output.WriteLine($"screenshot: {screenshot}");
                await page.EvaluateAsync("() => window.edgeRelay && window.edgeRelay.close()");
            }
            catch (PlaywrightException e)
            {
                output.WriteLine($"no screenshot: {e.Message}");
            }
        }
    }

    /// <summary>
    /// The relay's allocations, read outside its lock: at this point the call is steady (nothing is
    /// allocated or deleted), and a snapshot that met a change is simply taken again.
    /// </summary>
    private static IReadOnlyList<AllocationSnapshot> Allocations(RunningRelay relay)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return relay.Engine.Server.Allocations
                    .Select(a => new AllocationSnapshot(
                        a.FiveTuple.Client.ToIPEndPoint(),
                        $"{a.FiveTuple} relayed {a.RelayedAddress} permissions [{string.Join(", ", a.Permissions.Select(p => p.PeerAddress))}] channels [{string.Join(", ", a.Channels.Select(c => $"0x{c.ChannelNumber:X4} {c.Peer}"))}] to peers {a.PacketsToPeers} from peers {a.PacketsFromPeers}"))
                    .ToList();
            }
            catch (InvalidOperationException) when (attempt < 10)
            {
                Thread.Sleep(10);
            }
        }
    }

    private sealed record AllocationSnapshot(System.Net.IPEndPoint Client, string Description);

    private static void AssertRelayed(Candidate? candidate, string which, string advertised, RunningRelay relay)
    {
        Assert.True(candidate is not null, $"{which} candidate is missing from getStats()");
        Assert.Equal(("relay", "udp"), (candidate.CandidateType, candidate.Protocol));
        Assert.Equal(advertised, candidate.Address);
        Assert.InRange(candidate.Port ?? 0, relay.Configuration.Relay.PortMin, relay.Configuration.Relay.PortMax);
    }

    private static async Task<T> Step<T>(IPage page, string step, object? argument)
    {
        JsonElement result = await page.EvaluateAsync<JsonElement>($"argument => window.edgeRelay.{step}(argument)", argument)
            .WaitAsync(StepTimeout);
        return result.Deserialize<T>(Json) ?? throw new InvalidOperationException($"{step} returned nothing");
    }

    private sealed record ConnectResult(
        bool Open, string ConnectionA, string ConnectionB, string[] CandidatesA, string[] CandidatesB,
        string[] StatesA, string[] StatesB, string[] Errors, CandidateError[] CandidateErrors, string[] Log);

    private sealed record CandidateError(string Peer, int ErrorCode, string? ErrorText, string? Url, string? Address, int? Port);

    private sealed record ExchangeResult(int Sent, int Echoed, int Mismatched, long Bytes, double Milliseconds, string? Error);

    private sealed record SelectedPairs(CandidatePair? A, CandidatePair? B);

    private sealed record CandidatePair(string State, bool Nominated, long BytesSent, long BytesReceived, Candidate Local, Candidate Remote);

    private sealed record Candidate(string CandidateType, string Protocol, string? RelayProtocol, string? Address, int? Port, string? Url);
}
