using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Net.Udp;

/// <summary>
/// A STUN/TURN listener on UDP: receives each datagram into its own buffer, hands it to the core, and
/// carries out the answer. It is also how relayed data reaches the clients that talk to it.
/// </summary>
internal sealed class UdpListener : IClientSender, IDisposable
{
    private readonly Socket _socket;
    private readonly RelayEngine _engine;
    private readonly TransportAddress _localAddress;
    private volatile bool _removed;

    public UdpListener(IPEndPoint endpoint, RelayEngine engine)
    {
        _engine = engine;
        _socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                // [::] means IPv6 only: 0.0.0.0 is a listener of its own.
                _socket.DualMode = false;
            }
            _socket.Bind(endpoint);
        }
        catch (SocketException e)
        {
            _socket.Dispose();
            throw new ListenerBindException(e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => $"cannot listen on udp {endpoint}: port {endpoint.Port} is already in use",
                SocketError.AccessDenied => $"cannot listen on udp {endpoint}: port {endpoint.Port} needs CAP_NET_BIND_SERVICE",
                _ => $"cannot listen on udp {endpoint}: {e.Message}",
            }, e);
        }
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _localAddress = TransportAddress.FromIPEndPoint(LocalEndPoint);
    }

    public IPEndPoint LocalEndPoint { get; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        // One byte more than the largest datagram taken, to tell a longer one (the batched loops' limit too).
        byte[] buffer = GC.AllocateUninitializedArray<byte>(RelayEngine.MaxUdpDatagram + 1, pinned: true);
        byte[] response = GC.AllocateUninitializedArray<byte>(TurnServer.MinResponseBufferLength, pinned: true);
        var remote = SocketAddressExtensions.CreateFor(_socket.AddressFamily);
        var scratch = new ScratchAddresses();
        while (!cancellationToken.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, remote, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (_removed)
            {
                // The close of a listener taken out by a reconfiguration aborts the pending receive.
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize)
            {
                _engine.CountOversizedDatagram();
                continue;
            }
            catch (SocketException e)
            {
                // An ICMP error for an earlier send, reported on the next receive: not the listener's end.
                NetLog.ReceiveFailed(_engine.Logger, LocalEndPoint.ToString(), e.SocketErrorCode.ToString());
                continue;
            }
            if (received > RelayEngine.MaxUdpDatagram)
            {
                _engine.CountOversizedDatagram();
                continue;
            }
            var fiveTuple = new FiveTuple(remote.ToTransportAddress(), _localAddress, TransportProtocol.Udp);
            TurnAction action;
            lock (_engine.Gate)
            {
                // Read under the lock that Remove holds: a datagram received just before the close makes
                // no allocation behind the engine's back once this listener's allocations were ended.
                if (_removed)
                {
                    return;
                }
                action = _engine.Server.HandleClientPacket(fiveTuple, this, buffer.AsSpan(0, received), response);
            }
            _engine.Execute(action, buffer, response, scratch);
        }
    }

    public void SendToClient(ReadOnlySpan<byte> data, in TransportAddress client, ScratchAddresses scratch) =>
        scratch.SendTo(_socket, data, client);

    /// <summary>With NAT behaviour discovery (RFC 5780): the listener on each of the server's endpoints, by role; null otherwise.</summary>
    public UdpListener[]? NatGroup { get; set; }

    /// <summary>This listener's role in <see cref="NatGroup"/>.</summary>
    public int NatRole { get; set; }

    /// <summary>The listener that answers leave from when the core asks for <paramref name="source"/> (RFC 5780 §6.1 Table 1).</summary>
    public UdpListener SenderFor(ResponseSource source) =>
        source != ResponseSource.Received && NatGroup is { } group ? group[NatRole ^ (int)source] : this;

    /// <summary>
    /// Taken out by a reconfiguration: from now on, under the engine's lock, nothing this socket receives
    /// reaches the core. The caller holds <see cref="RelayEngine.Gate"/>, then disposes the listener.
    /// </summary>
    public void MarkRemoved() => _removed = true;

    public void Dispose() => _socket.Dispose();
}
