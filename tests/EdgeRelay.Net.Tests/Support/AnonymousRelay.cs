using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Net.Tests.Support;

/// <summary>
/// For tests about the socket layer rather than credentials: options for an anonymous relay on loopback
/// with a relay port range of its own, and a request/response helper built with the codec.
/// </summary>
internal static class AnonymousRelay
{
    public static TurnServerOptions Options(int basePort, int ports, bool allowAnonymous = true) => new()
    {
        Realm = "edgerelay.test",
        RelayAddressIPv4 = IPAddress.Loopback,
        RelayPortMin = basePort + Environment.ProcessId % 40 * ports,
        RelayPortMax = basePort + Environment.ProcessId % 40 * ports + ports - 1,
        AllowAnonymous = allowAnonymous,
        PeerPolicy = new PeerAddressPolicy(allowLoopback: true),
    };

    public delegate void Attributes(ref StunMessageWriter writer);

    public static byte[] Build(StunMethod method, Attributes attributes)
    {
        var buffer = new byte[512];
        var writer = new StunMessageWriter(buffer, method, StunClass.Request, Guid.NewGuid().ToByteArray().AsSpan(0, 12));
        attributes(ref writer);
        return buffer[..writer.Length];
    }

    /// <summary>Sends a request over UDP and asserts a success response.</summary>
    public static byte[] Exchange(Socket client, IPEndPoint server, StunMethod method, Attributes attributes)
    {
        client.SendTo(Build(method, attributes), server);
        var buffer = new byte[2048];
        int n = client.Receive(buffer);
        AssertSuccess(buffer.AsSpan(0, n));
        return buffer[..n];
    }

    public static void AssertSuccess(ReadOnlySpan<byte> message)
    {
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader response));
        Assert.Equal(StunClass.SuccessResponse, response.Class);
    }

    /// <summary>
    /// Waits until the batched loops have counted <paramref name="target"/> datagrams. A loop counts a
    /// batch after it has sent the batch's replies, so a client can hold the last reply before the count
    /// includes it; the wait is bounded, and the caller asserts on what it returns.
    /// </summary>
    public static long LoopDatagramsReaching(RelayEngine engine, long target)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        long seen;
        while ((seen = engine.LoopDatagrams) < target && waited.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(1);
        }
        return seen;
    }

    public static void AddRequestedTransportUdp(ref StunMessageWriter writer) => writer.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24);

    public static Attributes ChannelBind(ushort channel, TransportAddress peer) => (ref StunMessageWriter w) =>
    {
        Span<byte> number = w.AddAttribute(StunAttributeType.ChannelNumber, 4);
        number.Clear();
        number[0] = (byte)(channel >> 8);
        number[1] = (byte)channel;
        w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
    };
}
