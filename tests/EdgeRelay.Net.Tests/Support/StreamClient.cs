using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;

namespace EdgeRelay.Net.Tests.Support;

/// <summary>A TURN client over TCP: STUN messages back to back on one connection (RFC 8656 §3.1).</summary>
internal sealed class StreamClient : IDisposable
{
    private StreamClient(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    public static async Task<StreamClient> ConnectAsync(IPEndPoint server)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await socket.ConnectAsync(server, timeout.Token);
            return new StreamClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends a request and returns the next message, asserting that it is a success response.</summary>
    public async Task<byte[]> RequestAsync(StunMethod method, AnonymousRelay.Attributes attributes)
    {
        await Socket.SendAsync(AnonymousRelay.Build(method, attributes), SocketFlags.None);
        byte[] message = await ReadMessageAsync() ?? throw new InvalidOperationException("the relay closed the connection");
        AnonymousRelay.AssertSuccess(message);
        return message;
    }

    /// <summary>The next STUN message (20-byte header, then its length), or null when the relay closed the connection.</summary>
    public async Task<byte[]?> ReadMessageAsync()
    {
        byte[] header = new byte[20];
        if (!await ReadExactlyAsync(header))
        {
            return null;
        }
        byte[] message = new byte[20 + ((header[2] << 8) | header[3])];
        header.CopyTo(message, 0);
        return await ReadExactlyAsync(message.AsMemory(20)) ? message : null;
    }

    /// <summary>The next message, or null when the relay closed the connection (a reset is a close too).</summary>
    public async Task<byte[]?> ReadMessageOrCloseAsync()
    {
        try
        {
            return await ReadMessageAsync();
        }
        catch (SocketException)
        {
            return null;
        }
    }

    public async Task<TransportAddress> AllocateAsync()
    {
        byte[] response = await RequestAsync(StunMethod.Allocate, AnonymousRelay.AddRequestedTransportUdp);
        StunMessageReader.TryParse(response, out StunMessageReader reader);
        Assert.True(reader.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out TransportAddress relayed));
        return relayed;
    }

    private async Task<bool> ReadExactlyAsync(Memory<byte> buffer)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await Socket.ReceiveAsync(buffer[read..], SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                return false;
            }
            read += n;
        }
        return true;
    }

    public void Dispose() => Socket.Dispose();
}
