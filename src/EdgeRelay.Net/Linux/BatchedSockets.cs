using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using EdgeRelay.Net.Udp;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Net.Linux;

/// <summary>A socket that a <see cref="BatchLoop"/> reads in batches.</summary>
internal abstract class BatchedSocket : IDisposable
{
    protected BatchedSocket(int fd, bool isIPv6)
    {
        Fd = fd;
        IsIPv6 = isIPv6;
    }

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
            Close();
        }
    }

    /// <summary>Closes the descriptor: by the loop's thread once registered.</summary>
    public abstract void Close();
}

/// <summary>
/// One loop's socket of a UDP listener. With SO_REUSEPORT every loop has its own, bound to the same
/// endpoint, and the kernel spreads clients over them by their addresses.
/// </summary>
internal sealed class BatchedUdpListener : BatchedSocket, IClientSender
{
    private const int SolSocket = 1, SoReusePort = 15;

    private BatchedUdpListener(Socket socket) : base((int)socket.Handle, socket.AddressFamily == AddressFamily.InterNetworkV6)
    {
        Socket = socket;
        Socket.Blocking = false;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        LocalAddress = TransportAddress.FromIPEndPoint(LocalEndPoint);
    }

    public Socket Socket { get; }
    public IPEndPoint LocalEndPoint { get; }
    public TransportAddress LocalAddress { get; }

    /// <summary>
    /// Set under the engine's lock when a reconfiguration takes the listener out, before the socket leaves
    /// its loop: a datagram the loop still reads from it is dropped, so no allocation is made through a
    /// socket about to close. Read under the same lock, so a plain field is enough.
    /// </summary>
    public bool IsRemoved { get; set; }

    /// <summary>
    /// With NAT behaviour discovery (RFC 5780): this loop's socket on each of the server's endpoints, by role
    /// (see <see cref="Turn.NatBehaviorDiscoveryOptions"/>), so that a CHANGE-REQUEST answer leaves from the
    /// socket the core names, in the same loop. Null otherwise.
    /// </summary>
    public BatchedUdpListener[]? NatGroup { get; set; }

    /// <summary>This socket's role in <see cref="NatGroup"/>.</summary>
    public int NatRole { get; set; }

    /// <summary>The socket that answers leave from when the core asks for <paramref name="source"/> (RFC 5780 §6.1 Table 1).</summary>
    public BatchedUdpListener SenderFor(Turn.ResponseSource source) =>
        source != Turn.ResponseSource.Received && NatGroup is { } group ? group[NatRole ^ (int)source] : this;

    public override void Close() => Socket.Dispose();

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

/// <summary>
/// The socket of one relayed transport address, read by the loop it is registered with. It is a bare
/// descriptor rather than a .NET Socket: a relay keeps thousands of them, and each Socket would carry
/// its handle, its asynchronous context and their queues (about half a kilobyte) for nothing here.
/// </summary>
internal sealed unsafe class BatchedRelayEndpoint : BatchedSocket, IRelayEndpoint, IPeerSender
{
    private readonly Lock _closing = new();
    private bool _closed;

    private BatchedRelayEndpoint(int fd, bool isIPv6) : base(fd, isIPv6)
    {
    }

    public Allocation? Allocation { get; set; }

    /// <summary>
    /// A non-blocking UDP socket bound to <paramref name="address"/>, or null when the port is taken (or
    /// no descriptor is left). DF as <see cref="RelaySocketOptions.TryBind"/> sets it (RFC 8656 §14).
    /// </summary>
    public static BatchedRelayEndpoint? TryBind(in TransportAddress address, bool dontFragment)
    {
        bool v6 = address.Family == StunAddressFamily.IPv6;
        int fd = Libc.Socket(v6 ? Libc.AfInet6 : Libc.AfInet, Libc.SockDgram | Libc.SockNonblock | Libc.SockCloexec, 0);
        if (fd < 0)
        {
            return null;
        }
        int discover = dontFragment ? RelaySocketOptions.PmtuDiscoverDo : RelaySocketOptions.PmtuDiscoverDont;
        int one = 1;
        byte* sockaddr = stackalloc byte[Libc.SockaddrIn6Size];
        uint length = SockaddrCodec.Write(sockaddr, address, v6);
        if (Libc.SetSockOpt(fd, v6 ? Libc.IpProtoIpv6 : Libc.IpProtoIp, v6 ? Libc.Ipv6MtuDiscover : Libc.IpMtuDiscover, &discover, sizeof(int)) != 0
            || (v6 && Libc.SetSockOpt(fd, Libc.IpProtoIpv6, Libc.Ipv6V6Only, &one, sizeof(int)) != 0)
            || Libc.Bind(fd, sockaddr, length) != 0)
        {
            Libc.Close(fd);
            return null;
        }
        return new BatchedRelayEndpoint(fd, v6);
    }

    /// <summary>
    /// For a TCP or TLS client's ChannelData, which arrives on its connection's thread. The lock keeps
    /// the loop from closing the descriptor (and the kernel from giving its number to another socket)
    /// while this sends.
    /// </summary>
    public void SendToPeer(ReadOnlySpan<byte> data, in TransportAddress peer, ScratchAddresses scratch)
    {
        byte* sockaddr = stackalloc byte[Libc.SockaddrIn6Size];
        uint length = SockaddrCodec.Write(sockaddr, peer, IsIPv6);
        nint sent;
        lock (_closing)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            fixed (byte* bytes = data)
            {
                sent = Libc.SendTo(Fd, bytes, (nuint)data.Length, Libc.MsgDontWait, sockaddr, length);
            }
        }
        if (sent < 0)
        {
            throw new SocketException((int)SocketError.SocketError, $"sendto failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public override void Close()
    {
        lock (_closing)
        {
            if (!_closed)
            {
                _closed = true;
                Libc.Close(Fd);
            }
        }
    }
}
