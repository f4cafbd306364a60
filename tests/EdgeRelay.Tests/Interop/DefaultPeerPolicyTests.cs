using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EdgeRelay.Tests.Support;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Tests.Interop;

/// <summary>With the default policy the relay refuses loopback peers: a listener on 127.0.0.1 hears nothing.</summary>
public sealed class DefaultPeerPolicyTests
{
    [Fact]
    public async Task A_udp_listener_on_loopback_receives_nothing_from_the_relay_under_the_default_policy()
    {
        await using var relay = RunningRelay.Start(allowLoopback: false);
        using var victim = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        victim.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int victimPort = ((IPEndPoint)victim.LocalEndPoint!).Port;

        // Both of uclient's ways of sending: channels, then Send indications.
        foreach (string[] mode in new[] { Array.Empty<string>(), ["-s"] })
        {
            Coturn.UClient([.. mode, "-u", RunningRelay.User, "-w", RunningRelay.Password, "-p", relay.PortText,
                "-e", "127.0.0.1", "-r", victimPort.ToString(CultureInfo.InvariantCulture), "-n", "10", "127.0.0.1"]);
        }

        Assert.Equal(0, victim.Available);
        var buffer = new byte[2048];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await victim.ReceiveAsync(buffer, SocketFlags.None, timeout.Token));
        Assert.True(relay.Engine.Server.Counters.GetPeerRefusals(PeerDecision.RefusedLoopback) > 0, "the relay saw and refused the peer");
        Assert.Equal(0, relay.Engine.Server.Counters.PacketsToPeers);
    }

    [Fact]
    public async Task With_loopback_allowed_the_relay_still_refuses_its_own_listener()
    {
        await using var relay = RunningRelay.Start(allowLoopback: true);
        Coturn.UClient("-u", RunningRelay.User, "-w", RunningRelay.Password, "-p", relay.PortText,
            "-e", "127.0.0.1", "-r", relay.PortText, "-n", "5", "127.0.0.1");
        Assert.True(relay.Engine.Server.Counters.GetPeerRefusals(PeerDecision.RefusedOwnService) > 0);
        Assert.Equal(0, relay.Engine.Server.Counters.PacketsToPeers);
    }
}
