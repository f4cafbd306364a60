using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Net.Udp;

/// <summary>
/// The UDP socket of one relayed transport address. Datagrams from peers are received behind
/// <see cref="TurnServer.PeerDataHeadroom"/> free bytes, so the core writes the ChannelData or Data
/// indication header in place.
/// </summary>
internal sealed class UdpRelayEndpoint : IRelayEndpoint
{
    /// <summary>
    /// The largest peer datagram relayed. WebRTC keeps packets under the path MTU (about 1200 bytes); a
    /// larger datagram would not fit a Data indication to a UDP client without fragmenting anyway.
    /// </summary>
    public const int MaxPeerDatagram = 4096;

    // IPPROTO_IP / IP_MTU_DISCOVER and IPPROTO_IPV6 / IPV6_MTU_DISCOVER from <linux/in.h>, <linux/in6.h>.
    private const int IpProtoIp = 0, IpMtuDiscover = 10, IpProtoIpv6 = 41, Ipv6MtuDiscover = 23;
    private const int PmtuDiscoverDont = 0, PmtuDiscoverDo = 2;

    private readonly Socket _socket;
    private readonly RelayEngine _engine;

    private UdpRelayEndpoint(Socket socket, RelayEngine engine)
    {
        _socket = socket;
        _engine = engine;
    }

    public Allocation? Allocation { get; set; }

    public static UdpRelayEndpoint? TryBind(in TransportAddress address, bool dontFragment, RelayEngine engine)
    {
        var endpoint = address.ToIPEndPoint();
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // RFC 8656 §14: DF set only when the client asked with DONT-FRAGMENT; otherwise the
            // "alternate behavior", DF clear, so that the kernel may fragment.
            if (OperatingSystem.IsLinux())
            {
                bool v4 = endpoint.AddressFamily == AddressFamily.InterNetwork;
                Span<byte> value = stackalloc byte[4];
                BitConverter.TryWriteBytes(value, dontFragment ? PmtuDiscoverDo : PmtuDiscoverDont);
                socket.SetRawSocketOption(v4 ? IpProtoIp : IpProtoIpv6, v4 ? IpMtuDiscover : Ipv6MtuDiscover, value);
            }
            socket.Bind(endpoint);
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
        var relay = new UdpRelayEndpoint(socket, engine);
        _ = relay.RunAsync();
        return relay;
    }

    private async Task RunAsync()
    {
        // Room for the header in front, the padding behind, and one byte more to notice an oversized datagram.
        byte[] buffer = GC.AllocateUninitializedArray<byte>(TurnServer.PeerDataHeadroom + MaxPeerDatagram + 1 + TurnServer.PeerDataTailroom);
        Memory<byte> receiveArea = buffer.AsMemory(TurnServer.PeerDataHeadroom, MaxPeerDatagram + 1);
        var remote = SocketAddressExtensions.CreateFor(_socket.AddressFamily);
        var scratch = new ScratchAddresses();
        while (true)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(receiveArea, SocketFlags.None, remote).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted or SocketError.Shutdown)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            Allocation? allocation = Allocation;
            if (allocation is null || received > MaxPeerDatagram)
            {
                continue;
            }
            TurnAction action;
            lock (_engine.Gate)
            {
                action = _engine.Server.HandlePeerDatagram(allocation, remote.ToTransportAddress(), buffer, TurnServer.PeerDataHeadroom, received);
            }
            _engine.Execute(action, buffer, default, scratch);
        }
    }

    public void SendToPeer(ReadOnlySpan<byte> data, in TransportAddress peer, ScratchAddresses scratch) =>
        scratch.SendTo(_socket, data, peer);

    public void Dispose() => _socket.Dispose();
}
