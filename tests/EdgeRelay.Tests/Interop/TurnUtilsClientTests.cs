using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Configuration;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Interop;

/// <summary>
/// coturn's own clients relay through EdgeRelay on loopback: turnutils_uclient with turnutils_peer as the
/// echo peer, in channel mode and Send-indication mode, with a long-term user and with a REST secret.
/// </summary>
public sealed class TurnUtilsClientTests
{
    private const int Messages = 50;
    private const int Clients = 2;

    [Fact]
    public async Task Uclient_relays_without_loss_in_channel_mode_with_a_long_term_user()
    {
        await using var relay = RunningRelay.Start(allowLoopback: true);
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            (int exit, string output) = Coturn.UClient(Args(relay, peerPort, "-u", RunningRelay.User, "-w", RunningRelay.Password));
            AssertRelayedEverything(exit, output);
        }
        Assert.True(relay.Engine.Server.Counters.ChannelsBound >= Clients, "channel mode binds channels");
        Assert.True(relay.Engine.Server.Counters.PacketsToPeers >= Messages * Clients);
    }

    [Fact]
    public async Task Uclient_relays_without_loss_with_send_indications()
    {
        await using var relay = RunningRelay.Start(allowLoopback: true);
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            (int exit, string output) = Coturn.UClient(Args(relay, peerPort, "-s", "-u", RunningRelay.User, "-w", RunningRelay.Password));
            AssertRelayedEverything(exit, output);
        }
        Assert.Equal(0, relay.Engine.Server.Counters.ChannelsBound);
    }

    [Fact]
    public async Task Uclient_relays_without_loss_with_a_rest_api_shared_secret()
    {
        await using var relay = RunningRelay.Start(allowLoopback: true);
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            (int exit, string output) = Coturn.UClient(Args(relay, peerPort, "-W", RunningRelay.SharedSecret, "-u", "webapp-user"));
            AssertRelayedEverything(exit, output);
        }
        Assert.True(relay.Engine.Server.Counters.AllocationsCreated >= Clients);
    }

    [Fact]
    public async Task Uclient_relays_without_loss_on_the_portable_socket_engine_too()
    {
        await using var relay = RunningRelay.Start(allowLoopback: true,
            c => c with { Engine = new EngineSection { Backend = Net.SocketBackend.Portable } });
        Assert.Equal(Net.SocketBackend.Portable, relay.Engine.Backend);
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            (int exit, string output) = Coturn.UClient(Args(relay, peerPort, "-u", RunningRelay.User, "-w", RunningRelay.Password));
            AssertRelayedEverything(exit, output);
        }
    }

    [Fact]
    public async Task Uclient_with_a_wrong_password_relays_nothing()
    {
        await using var relay = RunningRelay.Start(allowLoopback: true);
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            Coturn.UClient(Args(relay, peerPort, "-u", RunningRelay.User, "-w", "not the password"));
        }
        Assert.Equal(0, relay.Engine.Server.Counters.AllocationsCreated);
        Assert.Equal(0, relay.Engine.Server.Counters.PacketsToPeers);
        Assert.True(relay.Engine.Server.Counters.GetAuthFailures(Turn.Auth.AuthFailure.BadIntegrity) > 0);
    }

    [Fact]
    public async Task Stunclient_gets_its_reflexive_address()
    {
        await using var relay = RunningRelay.Start(allowLoopback: false);
        (int exit, string output) = ExternalProcess.Run(Coturn.Timeout, Coturn.Tool("turnutils_stunclient"), "-p", relay.PortText, "127.0.0.1");
        Assert.Equal(0, exit);
        Assert.Matches(@"UDP reflexive addr: 127\.0\.0\.1:\d+", output);
        Assert.True(relay.Engine.Server.Counters.BindingRequests > 0);
    }

    private static string[] Args(RunningRelay relay, int peerPort, params string[] extra) =>
    [
        .. extra,
        "-p", relay.PortText,
        "-e", "127.0.0.1",
        "-r", peerPort.ToString(CultureInfo.InvariantCulture),
        "-n", Messages.ToString(CultureInfo.InvariantCulture),
        "-m", Clients.ToString(CultureInfo.InvariantCulture),
        "-l", "180",
        "-z", "5",
        "127.0.0.1",
    ];

    // Each client sends -n messages on each of its two legs (RTP and RTCP: uclient without -c).
    private static void AssertRelayedEverything(int exit, string output) => Coturn.AssertRelayedEverything(exit, output, Messages * Clients);
}
