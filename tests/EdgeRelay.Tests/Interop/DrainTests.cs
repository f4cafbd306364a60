using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Interop;

/// <summary>
/// Draining the shipped binary while a call is on: coturn's turnutils_uclient relays through it to
/// turnutils_peer; SIGUSR1 (or the page's action) makes new Allocate requests get 300 Try Alternate with
/// ALTERNATE-SERVER (RFC 8656 §7.2, RFC 8489 §10), which `edgerelay probe turn` reports, while the call goes
/// on to its last packet; SIGUSR2 (or the page) takes new allocations again.
/// </summary>
public sealed class DrainTests : IDisposable
{
    private const string Alternate = "127.0.0.2:3478";
    private const string Token = "admin-token-for-the-drain-test";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-drain-").FullName;

    private RelayProcess Start()
    {
        int port = Ports.FreeUdpPort();
        int statusPort = Ports.FreeUdpPort();
        string config = RelayConfigFile.Write(_directory, port, $$"""
            "status": { "endpoint": "127.0.0.1:{{statusPort}}", "adminToken": "{{Token}}" },
              "alternateServers": ["{{Alternate}}"]
            """);
        return RelayProcess.Start(config, port, statusPort);
    }

    private static long PacketsToPeers(RelayProcess relay) => relay.Status().GetProperty("relayed").GetProperty("packetsToPeers").GetInt64();

    private static BinaryRun Probe(RelayProcess relay) => AotBinary.Run(
        ["probe", "turn", $"turn:127.0.0.1:{relay.Port}", "--user", RunningRelay.User, "--password", "-", "--count", "3"], Limit, stdin: RunningRelay.Password);

    [Fact]
    public async Task SIGUSR1_sends_new_allocations_to_the_alternate_while_the_call_in_progress_relays_to_its_end_and_SIGUSR2_takes_them_again()
    {
        using RelayProcess relay = Start();
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            // One client, one allocation, 600 messages 20 ms apart: a call of some twelve seconds.
            Task<(int, string)> call = Task.Run(() => Coturn.UClient("-u", RunningRelay.User, "-w", RunningRelay.Password,
                "-p", relay.Port.ToString(CultureInfo.InvariantCulture), "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture),
                "-n", "600", "-m", "1", "-z", "20", "127.0.0.1"));
            Assert.True(Eventually.True(() => PacketsToPeers(relay) > 0, Limit), $"the call did not start relaying:\n{relay.Process.Output}");

            relay.Process.Signal("USR1");
            Assert.True(relay.Process.WaitForOutput("Draining, asked by SIGUSR1", Limit), relay.Process.Output);
            long atDrain = PacketsToPeers(relay);

            BinaryRun refused = Probe(relay);
            Assert.True(refused.Exit == 1, refused.ToString());
            Assert.Contains($"300 Try Alternate: the server sends clients to {Alternate}", refused.Stdout, StringComparison.Ordinal);
            JsonElement status = relay.Status();
            Assert.True(status.GetProperty("draining").GetBoolean());
            Assert.Contains("D10-draining", status.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("code").GetString()));
            Assert.Equal([Alternate], status.GetProperty("alternateServers").EnumerateArray().Select(a => a.GetString()));
            string metrics = await relay.Http.GetStringAsync("metrics");
            Assert.Contains("edgerelay_draining 1\n", metrics, StringComparison.Ordinal);
            Assert.Contains("edgerelay_allocations_redirected_total 1\n", metrics, StringComparison.Ordinal);

            // The call that was on when the drain began relayed every packet to its end, and went on relaying after it.
            (int exit, string output) = await call;
            Coturn.AssertRelayedEverything(exit, output, 600);
            Assert.True(PacketsToPeers(relay) > atDrain, $"nothing was relayed after the drain began (at {atDrain})");
        }

        relay.Process.Signal("USR2");
        Assert.True(relay.Process.WaitForOutput("Taking new allocations again, asked by SIGUSR2", Limit), relay.Process.Output);
        BinaryRun accepted = Probe(relay);
        Assert.True(accepted.Exit == 0, accepted.ToString());
        Assert.False(relay.Status().GetProperty("draining").GetBoolean());
    }

    [Fact]
    public async Task The_status_page_drains_and_resumes_with_the_admin_token_only()
    {
        using RelayProcess relay = Start();
        using (HttpResponseMessage anonymous = await relay.Http.PostAsync("api/drain", null))
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }
        Assert.False(relay.Status().GetProperty("draining").GetBoolean());

        Assert.Contains($"sent to 1 alternate server(s)", await Post(relay, "api/drain"), StringComparison.Ordinal);
        Assert.True(relay.Status().GetProperty("draining").GetBoolean());
        Assert.Contains("300 Try Alternate", Probe(relay).Stdout, StringComparison.Ordinal);

        Assert.Contains("taking new allocations again", await Post(relay, "api/resume"), StringComparison.Ordinal);
        Assert.Equal(0, Probe(relay).Exit);
        Assert.Contains("Draining, asked by the status page", relay.Process.Output, StringComparison.Ordinal);
    }

    private static async Task<string> Post(RelayProcess relay, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using HttpResponseMessage response = await relay.Http.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return body;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
