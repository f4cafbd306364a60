using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Net.Streams;

/// <summary>
/// A TCP or TLS listener: accepts clients within <see cref="StreamLimits"/> (in total and per IP
/// address) and runs each as a <see cref="StreamConnection"/>.
/// </summary>
internal sealed class StreamListener : IDisposable
{
    private readonly Socket _socket;
    private readonly RelayEngine _engine;
    private readonly StreamLimits _limits;
    private readonly TlsCertificateSource? _tls;
    private readonly TransportProtocol _protocol;
    private readonly TransportAddress _localAddress;
    private readonly HashSet<StreamConnection> _connections = [];
    private readonly Dictionary<IPAddress, int> _perAddress = [];

    public StreamListener(ListenerOptions options, RelayEngine engine, StreamLimits limits)
    {
        _engine = engine;
        _limits = limits;
        _protocol = options.Protocol;
        if (options.Protocol == TransportProtocol.Tls)
        {
            _tls = new TlsCertificateSource(options.CertificatePath!, options.PrivateKeyPath!, engine.Logger, engine.Time);
        }
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
    public TlsCertificateSource? Certificate => _tls;

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
            catch (SocketException)
            {
                // Out of descriptors or a connection reset before accept: keep listening.
                await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            var remote = (IPEndPoint)client.RemoteEndPoint!;
            IPAddress address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
            string? refusal = TryAdmit(address);
            if (refusal is not null)
            {
                NetLog.ConnectionRefused(_engine.Logger, remote.ToString(), refusal);
                _engine.CountRefusedConnection();
                client.Dispose();
                continue;
            }
            var fiveTuple = new FiveTuple(TransportAddress.FromIPEndPoint(remote), _localAddress, _protocol);
            var connection = new StreamConnection(client, this, _engine, _limits, fiveTuple);
            lock (_connections)
            {
                _connections.Add(connection);
            }
            _ = Task.Run(() => connection.RunAsync(_tls));
        }
    }

    private string? TryAdmit(IPAddress address)
    {
        lock (_connections)
        {
            _perAddress.TryGetValue(address, out int count);
            if (count >= _limits.MaxConnectionsPerAddress)
            {
                return $"{count} connections open from {address} (limits.maxConnectionsPerAddress)";
            }
            // The total spans every listener: counted by the engine, without taking another listener's lock.
            if (!_engine.TryAddStreamConnection(_limits.MaxConnections))
            {
                return $"{_limits.MaxConnections} connections open (limits.maxConnections)";
            }
            _perAddress[address] = count + 1;
            return null;
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
            IPAddress address = connection.FiveTuple.Client.ToIPAddress();
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

    public void Dispose()
    {
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
