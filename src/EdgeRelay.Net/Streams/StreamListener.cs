using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Net.Streams;

/// <summary>
/// A TCP or TLS listener: accepts clients within the engine's current <see cref="StreamLimits"/> (in total
/// and per IP address) and runs each as a <see cref="StreamConnection"/>. Each connection keeps the limits
/// it was accepted under; a reconfiguration's new limits apply to the connections accepted after it.
/// </summary>
internal sealed class StreamListener : IDisposable
{
    private readonly Socket _socket;
    private readonly RelayEngine _engine;
    private readonly TransportProtocol _protocol;
    private readonly TransportAddress _localAddress;
    private readonly HashSet<StreamConnection> _connections = [];
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private volatile TlsCertificateSource? _tls;
    private volatile bool _stoppedAccepting;

    /// <param name="tls">The certificate of a TLS listener (see <see cref="RelayEngine"/>, which loads it); null for TCP.</param>
    public StreamListener(ListenerOptions options, TlsCertificateSource? tls, RelayEngine engine)
    {
        _engine = engine;
        _protocol = options.Protocol;
        _tls = tls;
        IPEndPoint endpoint = options.Endpoint;
        _socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                _socket.DualMode = false;
            }
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _socket.Bind(endpoint);
            _socket.Listen(512);
        }
        catch (SocketException e)
        {
            _socket.Dispose();
            string name = options.Protocol == TransportProtocol.Tls ? "tls" : "tcp";
            throw new ListenerBindException(e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => $"cannot listen on {name} {endpoint}: port {endpoint.Port} is already in use",
                SocketError.AccessDenied => $"cannot listen on {name} {endpoint}: port {endpoint.Port} needs CAP_NET_BIND_SERVICE",
                _ => $"cannot listen on {name} {endpoint}: {e.Message}",
            }, e);
        }
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _localAddress = TransportAddress.FromIPEndPoint(LocalEndPoint);
    }

    public IPEndPoint LocalEndPoint { get; }
    public TransportProtocol Protocol => _protocol;
    /// <summary>The certificate handed to new connections; a reconfiguration that names other files replaces it.</summary>
    public TlsCertificateSource? Certificate
    {
        get => _tls;
        set => _tls = value;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (_stoppedAccepting)
            {
                return;
            }
            catch (SocketException)
            {
                // Out of descriptors or a connection reset before accept: keep listening.
                await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            var remote = (IPEndPoint)client.RemoteEndPoint!;
            IPAddress address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
            // Read once per connection: the limits a reconfiguration sets apply from the next accept on.
            StreamLimits limits = _engine.StreamLimits;
            string? refusal = TryAdmit(address, limits);
            if (refusal is not null)
            {
                NetLog.ConnectionRefused(_engine.Logger, remote.ToString(), refusal);
                _engine.CountRefusedConnection();
                client.Dispose();
                continue;
            }
            var fiveTuple = new FiveTuple(TransportAddress.FromIPEndPoint(remote), _localAddress, _protocol);
            var connection = new StreamConnection(client, this, _engine, limits, fiveTuple);
            lock (_connections)
            {
                _connections.Add(connection);
            }
            _ = Task.Run(() => connection.RunAsync(_tls));
        }
    }

    private string? TryAdmit(IPAddress address, StreamLimits limits)
    {
        lock (_connections)
        {
            _perAddress.TryGetValue(address, out int count);
            if (count >= limits.MaxConnectionsPerAddress)
            {
                return $"{count} connections open from {address} (limits.maxConnectionsPerAddress)";
            }
            // Taken now, under the lock that Forget gives slots back under, and given back if the total refuses.
            _perAddress[address] = count + 1;
        }
        // The total spans every listener: counted by the engine, which makes room across them (outside this
        // listener's lock, so that two accept loops making room at once cannot wait on each other).
        if (!_engine.TryAddStreamConnection(limits.MaxConnections) && !_engine.TryMakeRoomForStreamConnection())
        {
            lock (_connections)
            {
                ReleaseAddress(address);
            }
            return $"{limits.MaxConnections} connections open, each holding an allocation (limits.maxConnections)";
        }
        return null;
    }

    /// <summary>
    /// Of this listener's open connections that hold no allocation, the one accepted before <paramref name="oldest"/>,
    /// if any, replaces it.
    /// </summary>
    internal void FindOlderWithoutAllocation(ref StreamConnection? oldest)
    {
        lock (_connections)
        {
            foreach (StreamConnection connection in _connections)
            {
                if (!connection.HoldsAllocation && !connection.IsClosed
                    && (oldest is null || connection.AcceptedTimestamp < oldest.AcceptedTimestamp))
                {
                    oldest = connection;
                }
            }
        }
    }

    /// <summary>Gives back a connection's slot of its address; the caller holds the lock.</summary>
    private void ReleaseAddress(IPAddress address)
    {
        if (_perAddress.TryGetValue(address, out int count))
        {
            if (count <= 1)
            {
                _perAddress.Remove(address);
            }
            else
            {
                _perAddress[address] = count - 1;
            }
        }
    }

    /// <summary>Connections open on this listener now.</summary>
    public int ConnectionCount
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count;
            }
        }
    }

    internal void Forget(StreamConnection connection)
    {
        lock (_connections)
        {
            if (!_connections.Remove(connection))
            {
                return;
            }
            _engine.RemoveStreamConnection();
            ReleaseAddress(connection.FiveTuple.Client.ToIPAddress());
        }
    }

    /// <summary>Closes the connections that hold no allocation and sent no message for the idle timeout.</summary>
    public void CloseIdleConnections()
    {
        List<StreamConnection> idle;
        lock (_connections)
        {
            idle = _connections.Where(c => c.IsIdle).ToList();
        }
        foreach (StreamConnection connection in idle)
        {
            bool hasAllocation;
            lock (_engine.Gate)
            {
                hasAllocation = _engine.Server.FindAllocation(connection.FiveTuple) is not null;
            }
            if (!hasAllocation)
            {
                connection.Close("idle without an allocation");
            }
        }
    }

    /// <summary>
    /// Closes the listening socket and ends the accept loop, but leaves the connections already accepted
    /// open until they end on their own (a reconfiguration took this listener out: no call is dropped).
    /// </summary>
    public void StopAccepting()
    {
        _stoppedAccepting = true;
        _socket.Dispose();
    }

    public void Dispose()
    {
        _stoppedAccepting = true;
        _socket.Dispose();
        List<StreamConnection> open;
        lock (_connections)
        {
            open = [.. _connections];
        }
        foreach (StreamConnection connection in open)
        {
            connection.Close("relay stopping");
        }
    }
}
