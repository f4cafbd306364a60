using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EdgeRelay.Configuration;
using EdgeRelay.Stun;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Transports;

/// <summary>
/// A client that opens many TCP connections, or trickles bytes, is cut off by the limits, while the relay
/// keeps serving a well-behaved client (on another loopback address, as a real one would be).
/// </summary>
public sealed class StreamLimitsTests
{
    private static RunningRelay StartTcpRelay(int maxPerAddress = 32, int idleSeconds = 30)
    {
        int port = Ports.FreeUdpPort();
        return RunningRelay.StartWith(
            [new ListenerConfiguration(ListenerTransport.Tcp, new IPEndPoint(IPAddress.Loopback, port), null, null)],
            allowLoopback: true,
            c => c with { Limits = c.Limits with { MaxConnectionsPerAddress = maxPerAddress, ConnectionIdleSeconds = idleSeconds } });
    }

    private static async Task<Socket> ConnectFromAsync(string source, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>True when the server has closed the connection (a read returns 0 or fails) within the wait.</summary>
    private static async Task<bool> IsClosedByServerAsync(Socket socket, TimeSpan wait)
    {
        var buffer = new byte[64];
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            while (true)
            {
                int read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    private static void RelayWithUclientOverTcp(RunningRelay relay)
    {
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            (int exit, string output) = Coturn.UClient("-t", "-u", RunningRelay.User, "-w", RunningRelay.Password, "-p", relay.PortText,
                "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture), "-n", "20", "-m", "2", "-z", "5", "127.0.0.1");
            Coturn.AssertRelayedEverything(exit, output, 40);
        }
    }

    [Fact]
    public async Task Connections_beyond_the_per_address_limit_are_closed_and_others_keep_relaying()
    {
        await using RunningRelay relay = StartTcpRelay(maxPerAddress: 5);
        var flood = new List<Socket>();
        try
        {
            for (int i = 0; i < 20; i++)
            {
                flood.Add(await ConnectFromAsync("127.0.0.2", relay.Port));
            }
            bool[] closed = await Task.WhenAll(flood.Select(s => IsClosedByServerAsync(s, TimeSpan.FromSeconds(2))));
            Assert.Equal(5, closed.Count(c => !c));
            Assert.True(relay.Engine.RefusedConnections >= 15);

            RelayWithUclientOverTcp(relay);
        }
        finally
        {
            flood.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task A_client_that_trickles_a_message_byte_by_byte_is_cut_off_and_others_keep_relaying()
    {
        await using RunningRelay relay = StartTcpRelay(idleSeconds: 2);
        using Socket trickler = await ConnectFromAsync("127.0.0.3", relay.Port);
        byte[] binding = new byte[StunConstants.HeaderLength];
        var writer = new StunMessageWriter(binding, StunMethod.Binding, StunClass.Request, new byte[12]);
        Assert.Equal(20, writer.Length);

        // One byte every 400 ms would take 8 s for a 20-byte Binding request.
        bool cutOff = false;
        for (int i = 0; i < binding.Length && !cutOff; i++)
        {
            try
            {
                await trickler.SendAsync(binding.AsMemory(i, 1), SocketFlags.None);
            }
            catch (SocketException)
            {
                cutOff = true;
                break;
            }
            cutOff = await IsClosedByServerAsync(trickler, TimeSpan.FromMilliseconds(400));
        }
        Assert.True(cutOff, "the trickling connection was still open after the whole message");

        RelayWithUclientOverTcp(relay);
    }

    [Theory]
    [InlineData("80 60 00 01 00 00 00 00 12 34 56 78")]   // RTP: first bits 0b10
    [InlineData("16 03 01 00 a0 01 00 00 9c 03 03 00")]   // a TLS ClientHello on the plain TCP port: no magic cookie
    public async Task A_connection_that_sends_something_other_than_stun_or_channel_data_is_closed(string hex)
    {
        await using RunningRelay relay = StartTcpRelay();
        using Socket client = await ConnectFromAsync("127.0.0.4", relay.Port);
        await client.SendAsync(Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)), SocketFlags.None);
        // Long before the 30 s idle timeout: the framer refuses it at once.
        Assert.True(await IsClosedByServerAsync(client, TimeSpan.FromSeconds(10)));
    }
}
