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
internal sealed class UdpRelayEndpoint : IRelayEndpoint, IPeerSender
{
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
        Socket? socket = RelaySocketOptions.TryBind(address.ToIPEndPoint(), dontFragment);
        if (socket is null)
        {
            return null;
        }
        var relay = new UdpRelayEndpoint(socket, engine);
        _ = relay.RunAsync();
        return relay;
    }

    private async Task RunAsync()
    {
        // Room for the header in front, the padding behind, and one byte more to notice an oversized datagram.
        byte[] buffer = GC.AllocateUninitializedArray<byte>(TurnServer.PeerDataHeadroom + RelayEngine.MaxUdpDatagram + 1 + TurnServer.PeerDataTailroom);
        Memory<byte> receiveArea = buffer.AsMemory(TurnServer.PeerDataHeadroom, RelayEngine.MaxUdpDatagram + 1);
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
            catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize)
            {
                _engine.CountOversizedDatagram();
                continue;
            }
            catch (SocketException)
            {
                continue;
            }
            if (received > RelayEngine.MaxUdpDatagram)
            {
                _engine.CountOversizedDatagram();
                continue;
            }
            Allocation? allocation = Allocation;
            if (allocation is null)
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
