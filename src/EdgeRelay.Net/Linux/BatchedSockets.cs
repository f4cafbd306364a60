using System.Net;
using System.Net.Sockets;
using EdgeRelay.Net.Udp;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Net.Linux;

/// <summary>A socket that a <see cref="BatchLoop"/> reads in batches.</summary>
internal abstract class BatchedSocket : IDisposable
{
    protected BatchedSocket(Socket socket)
    {
        Socket = socket;
        Socket.Blocking = false;
        Fd = (int)socket.Handle;
        IsIPv6 = socket.AddressFamily == AddressFamily.InterNetworkV6;
    }

    public Socket Socket { get; }
    public int Fd { get; }
    public bool IsIPv6 { get; }
    public BatchLoop? Loop { get; set; }

    /// <summary>The loop's name for this socket in its completions (io_uring's user_data), never reused.</summary>
    public uint Token { get; set; }

    /// <summary>A registered socket is closed by its loop (see <see cref="BatchLoop.Unregister"/>).</summary>
    public void Dispose()
    {
        if (Loop is { } loop)
        {
            loop.Unregister(this);
        }
        else
        {
            Socket.Dispose();
        }
    }
}

/// <summary>
/// One loop's socket of a UDP listener. With SO_REUSEPORT every loop has its own, bound to the same
/// endpoint, and the kernel spreads clients over them by their addresses.
/// </summary>
internal sealed class BatchedUdpListener : BatchedSocket, IClientSender
{
    private const int SolSocket = 1, SoReusePort = 15;

    private BatchedUdpListener(Socket socket) : base(socket)
    {
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        LocalAddress = TransportAddress.FromIPEndPoint(LocalEndPoint);
    }

    public IPEndPoint LocalEndPoint { get; }
    public TransportAddress LocalAddress { get; }

    public static BatchedUdpListener Bind(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }
            socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
            socket.ReceiveBufferSize = 4 << 20;
            socket.SendBufferSize = 4 << 20;
            socket.Bind(endpoint);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ListenerBindException(e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => $"cannot listen on udp {endpoint}: port {endpoint.Port} is already in use",
                SocketError.AccessDenied => $"cannot listen on udp {endpoint}: port {endpoint.Port} needs CAP_NET_BIND_SERVICE",
                _ => $"cannot listen on udp {endpoint}: {e.Message}",
            }, e);
        }
        return new BatchedUdpListener(socket);
    }

    /// <summary>From threads other than the loops' (a TCP client's allocation never sends here, but the interface asks).</summary>
    public void SendToClient(ReadOnlySpan<byte> data, in TransportAddress client, ScratchAddresses scratch) =>
        scratch.SendTo(Socket, data, client);
}

/// <summary>The socket of one relayed transport address, read by the loop it is registered with.</summary>
internal sealed class BatchedRelayEndpoint(Socket socket) : BatchedSocket(socket), IRelayEndpoint, IPeerSender
{
    public Allocation? Allocation { get; set; }

    /// <summary>For a TCP or TLS client's ChannelData, which arrives on its connection's thread.</summary>
    public void SendToPeer(ReadOnlySpan<byte> data, in TransportAddress peer, ScratchAddresses scratch) =>
        scratch.SendTo(Socket, data, peer);
}
