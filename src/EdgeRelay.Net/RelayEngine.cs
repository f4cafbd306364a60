using System.Net;
using System.Net.Sockets;
using EdgeRelay.Net.Linux;
using EdgeRelay.Net.Streams;
using EdgeRelay.Net.Udp;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Allocations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Net;

/// <summary>
/// Runs the TURN core on real sockets: binds the listeners, opens relay sockets when the core asks,
/// carries out its answers, and ticks its timers. UDP goes through batched loops on Linux, one per core
/// (<see cref="SocketBackend.IoUring"/>, else <see cref="SocketBackend.RecvMmsg"/>), or .NET's asynchronous
/// sockets (<see cref="SocketBackend.Portable"/>);
/// TCP and TLS through <see cref="StreamListener"/>. Calls into the core are serialised by <see cref="Gate"/>;
/// sending happens outside it, from buffers the calling loop owns. Listeners, options and stream limits
/// can change while it runs (<see cref="Reconfigure"/>, in RelayEngine.Reconfigure.cs).
/// </summary>
public sealed partial class RelayEngine : IRelayBinder, IAsyncDisposable
{
    private readonly List<BatchLoop> _eventLoops = [];
    private readonly int _loopCount;
    private int _nextLoop;
    private readonly List<Task> _backgroundTasks = [];
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Serialises what changes the set of listeners: Start, Reconfigure and DisposeAsync.</summary>
    private readonly Lock _listenersGate = new();

    // Replaced whole under _listenersGate and read without it (a volatile read of the reference), so that
    // loops, the tick and the status page never see a list being changed.
    private volatile RunningListener[] _running = [];

    /// <summary>TCP and TLS listeners taken out by a reconfiguration whose accepted connections are still open.</summary>
    private volatile RunningListener[] _retired = [];
    private volatile StreamLimits _streamLimits;
    private bool _started;
    private long _sendFailures;
    private long _refusedConnections;
    private long _evictedConnections;
    private long _oversizedDatagrams;
    private int _streamConnections;
    private long _bytesDroppedToSlowClients;
    private readonly string? _ioUringUnavailable;
    private long _ticks;

    public RelayEngine(TurnServerOptions options, TimeProvider time, ILoggerFactory? loggerFactory = null, StreamLimits? streamLimits = null,
        SocketBackend backend = SocketBackend.Auto, int loops = 0)
    {
        loggerFactory ??= NullLoggerFactory.Instance;
        Time = time;
        Backend = ChooseBackend(backend, out _ioUringUnavailable);
        _loopCount = loops > 0 ? loops : Environment.ProcessorCount;
        _streamLimits = streamLimits ?? new StreamLimits();
        Logger = loggerFactory.CreateLogger("EdgeRelay.Net");
        Server = new TurnServer(options, time, this, loggerFactory.CreateLogger("EdgeRelay.Turn"));
    }

    /// <summary>
    /// Auto takes io_uring when a probe on loopback shows that the kernel allows all this engine needs of
    /// it, and recvmmsg/sendmmsg otherwise; a backend asked for by name that cannot run here is refused
    /// when the engine starts.
    /// </summary>
    private static SocketBackend ChooseBackend(SocketBackend asked, out string? ioUringUnavailable)
    {
        ioUringUnavailable = null;
        if (asked is SocketBackend.Auto or SocketBackend.IoUring)
        {
            ioUringUnavailable = IoUringLoop.Probe();
            if (ioUringUnavailable is null)
            {
                return SocketBackend.IoUring;
            }
        }
        return asked switch
        {
            SocketBackend.Auto => OperatingSystem.IsLinux() ? SocketBackend.RecvMmsg : SocketBackend.Portable,
            _ => asked,
        };
    }

    private bool Batched => Backend is SocketBackend.IoUring or SocketBackend.RecvMmsg;

    public TurnServer Server { get; }
    internal object Gate { get; } = new();
    internal ILogger Logger { get; }
    internal TimeProvider Time { get; }

    public SocketBackend Backend { get; }

    /// <summary>The bound endpoints of the UDP listeners, in the order of the configuration.</summary>
    public IReadOnlyList<IPEndPoint> LocalEndPoints =>
        _running.Where(l => l.Protocol == TransportProtocol.Udp).Select(l => l.LocalEndPoint).ToList();

    /// <summary>The bound endpoints of the TCP and TLS listeners, in the order of the configuration.</summary>
    public IReadOnlyList<(TransportProtocol Protocol, IPEndPoint EndPoint)> StreamEndPoints =>
        _running.Where(l => l.Stream is not null).Select(l => (l.Protocol, l.LocalEndPoint)).ToList();

    /// <summary>The listeners as configured (endpoints as written, port 0 included), in the order of the configuration.</summary>
    public IReadOnlyList<ListenerOptions> Listeners => _running.Select(l => l.Options).ToList();

    /// <summary>The limits that connections accepted from now on get.</summary>
    public StreamLimits StreamLimits => _streamLimits;

    /// <summary>The certificates of the TLS listeners, as they are served now.</summary>
    public IEnumerable<TlsCertificateSource> Certificates => _running.Select(l => l.Stream?.Certificate).OfType<TlsCertificateSource>();

    public long SendFailures => Interlocked.Read(ref _sendFailures);

    /// <summary>What the batched engine's loop threads have allocated, in total (see BatchLoop.AllocatedBytes).</summary>
    public long LoopAllocatedBytes => _eventLoops.Sum(l => l.AllocatedBytes);

    /// <summary>Datagrams the batched engine's loops have read.</summary>
    public long LoopDatagrams => _eventLoops.Sum(l => l.Datagrams);
    public long RefusedConnections => Interlocked.Read(ref _refusedConnections);

    /// <summary>
    /// The largest UDP datagram taken, from a client or a peer; a longer one is dropped and counted. WebRTC keeps
    /// packets under the path MTU (about 1200 bytes); a larger one would not reach a UDP client unfragmented
    /// anyway, and the limit keeps every receive slot of the batched loops small.
    /// </summary>
    public const int MaxUdpDatagram = 4096;

    /// <summary>UDP datagrams dropped for being longer than <see cref="MaxUdpDatagram"/>.</summary>
    public long OversizedDatagrams => Interlocked.Read(ref _oversizedDatagrams);

    internal void CountOversizedDatagram() => Interlocked.Increment(ref _oversizedDatagrams);

    /// <summary>TCP and TLS connections without an allocation closed to make room for a new one at limits.maxConnections.</summary>
    public long EvictedConnections => Interlocked.Read(ref _evictedConnections);

    /// <summary>
    /// One counter per part of the engine that must keep moving: each batched loop's turns, and the
    /// timer tick that expires allocations (it takes the core's lock, so it stalls with a stuck core).
    /// A watchdog compares two snapshots: every entry must have grown.
    /// </summary>
    public long[] ProgressSnapshot()
    {
        var snapshot = new long[_eventLoops.Count + 1];
        for (int i = 0; i < _eventLoops.Count; i++)
        {
            snapshot[i] = _eventLoops[i].Turns;
        }
        snapshot[^1] = Interlocked.Read(ref _ticks);
        return snapshot;
    }

    /// <summary>
    /// The first part of <paramref name="now"/> that has not grown since <paramref name="before"/>, or -1
    /// when every part moved. Snapshots of another shape are a new baseline, never a stall.
    /// </summary>
    public static int FirstStalled(long[] before, long[] now)
    {
        if (before.Length != now.Length)
        {
            return -1;
        }
        for (int i = 0; i < now.Length; i++)
        {
            if (now[i] <= before[i])
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>What entry <paramref name="index"/> of a <see cref="ProgressSnapshot"/> of <paramref name="count"/> entries is.</summary>
    public static string ProgressPartName(int index, int count) =>
        index == count - 1 ? "the timer tick" : $"event loop {index.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    public int StreamConnectionCount => Volatile.Read(ref _streamConnections);

    /// <summary>
    /// TCP or TLS connections open now on the listeners of <paramref name="protocol"/>, those of listeners
    /// that a reconfiguration took out included.
    /// </summary>
    public int StreamConnectionCountOf(TransportProtocol protocol) =>
        _running.Concat(_retired).Where(l => l.Protocol == protocol && l.Stream is not null).Sum(l => l.Stream!.ConnectionCount);

    internal void CountRefusedConnection() => Interlocked.Increment(ref _refusedConnections);

    /// <summary>Bytes not queued for TCP and TLS clients that read too slowly (limits.maxBufferedBytesPerConnection).</summary>
    public long BytesDroppedToSlowClients => Interlocked.Read(ref _bytesDroppedToSlowClients);

    internal void CountDroppedToSlowClient(int bytes) => Interlocked.Add(ref _bytesDroppedToSlowClients, bytes);

    internal bool TryAddStreamConnection(int limit)
    {
        if (Interlocked.Increment(ref _streamConnections) <= limit)
        {
            return true;
        }
        Interlocked.Decrement(ref _streamConnections);
        return false;
    }

    internal void RemoveStreamConnection() => Interlocked.Decrement(ref _streamConnections);

    /// <summary>
    /// At limits.maxConnections, a new client takes the place of the connection that holds no allocation and was
    /// accepted longest ago: connections opened and left idle, or kept open with Binding requests, cannot lock out
    /// the clients that come to relay (one in its TLS handshake or its first Allocate is the newest, not the
    /// oldest), while no call in progress is ever cut. The new connection is counted at once; the closed one until
    /// its loop ends, so the count can pass the limit by the few being closed. False when every connection holds
    /// an allocation.
    /// </summary>
    internal bool TryMakeRoomForStreamConnection()
    {
        // A few tries: another accept loop may have closed the same connection a moment before.
        for (int attempt = 0; attempt < 3; attempt++)
        {
            StreamConnection? oldest = null;
            foreach (RunningListener listener in _running.Concat(_retired))
            {
                listener.Stream?.FindOlderWithoutAllocation(ref oldest);
            }
            if (oldest is null)
            {
                return false;
            }
            lock (Gate)
            {
                // Asked and closed under the core's lock: no Allocate on that connection can come in between.
                if (Server.FindAllocation(oldest.FiveTuple) is not null
                    || !oldest.Close("closed for a new connection: limits.maxConnections reached and it held no allocation"))
                {
                    continue;
                }
            }
            Interlocked.Increment(ref _streamConnections);
            Interlocked.Increment(ref _evictedConnections);
            return true;
        }
        return false;
    }

    /// <summary>Binds only UDP listeners (tests and the development default).</summary>
    public void Start(IEnumerable<IPEndPoint> udpListeners) => Start(udpListeners.Select(ListenerOptions.Udp));

    /// <summary>
    /// Binds every listener, or none: the first that fails throws <see cref="ListenerBindException"/>
    /// naming its endpoint, after closing the ones already bound. Then starts the loops.
    /// </summary>
    public void Start(IEnumerable<ListenerOptions> listeners)
    {
        Linux.OpenFileLimit.RaiseToHardLimit();
        lock (_listenersGate)
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            if (_started)
            {
                throw new InvalidOperationException("the engine has started already; use Reconfigure to change its listeners");
            }
            StartLocked(listeners.ToList());
            _started = true;
        }
    }

    private void StartLocked(List<ListenerOptions> listeners)
    {
        CheckRelayAddresses(Server.Options);
        if (Backend == SocketBackend.IoUring && _ioUringUnavailable is not null)
        {
            throw new ListenerBindException($"engine.backend \"io_uring\" cannot run here: {_ioUringUnavailable}");
        }
        if (Backend == SocketBackend.RecvMmsg && !OperatingSystem.IsLinux())
        {
            throw new ListenerBindException("engine.backend \"recvmmsg\" needs Linux");
        }
        var bound = new List<RunningListener>();
        try
        {
            for (int i = 0; Batched && i < _loopCount; i++)
            {
                _eventLoops.Add(Backend == SocketBackend.IoUring ? new IoUringLoop(this, i) : new EpollLoop(this, i));
            }
            foreach (ListenerOptions listener in listeners)
            {
                bound.Add(Bind(listener));
            }
            _natDiscovery = Server.Options.NatBehaviorDiscovery is { } discovery ? BindNatDiscovery(discovery, bound) : [];
            _eventLoops.ForEach(l => l.Start());
        }
        catch
        {
            foreach (RunningListener alternate in _natDiscovery)
            {
                alternate.Close();
            }
            _natDiscovery = [];
            bound.ForEach(l => l.Close());
            _eventLoops.ForEach(l => l.Dispose());
            _eventLoops.Clear();
            throw;
        }
        if (_ioUringUnavailable is not null && Backend == SocketBackend.RecvMmsg)
        {
            NetLog.IoUringUnavailable(Logger, _ioUringUnavailable);
        }
        string loops = $" ({_loopCount} {(Backend == SocketBackend.IoUring ? "io_uring" : "recvmmsg")} loops)";
        foreach (RunningListener listener in bound)
        {
            NetLog.Listening(Logger, listener.TransportName, listener.LocalEndPoint + (listener.Batched is not null ? loops : ""));
            Run(listener);
        }
        foreach (RunningListener alternate in _natDiscovery)
        {
            Run(alternate);
        }
        LogNatDiscovery();
        _running = [.. bound];
        AddBackgroundTask(Task.Run(TickAsync));
    }

    /// <summary>
    /// Binds one listener: for UDP on the batched backends one socket per loop on the same endpoint
    /// (SO_REUSEPORT; the first fixes the port), registered with its loop. A failure closes what this
    /// listener had bound and throws <see cref="ListenerBindException"/>.
    /// </summary>
    private RunningListener Bind(ListenerOptions listener)
    {
        if (listener.Protocol == TransportProtocol.Udp && Batched)
        {
            var sockets = new BatchedUdpListener[_eventLoops.Count];
            IPEndPoint endpoint = listener.Endpoint;
            try
            {
                for (int i = 0; i < sockets.Length; i++)
                {
                    sockets[i] = BatchedUdpListener.Bind(endpoint);
                    _eventLoops[i].Register(sockets[i]);
                    endpoint = sockets[i].LocalEndPoint;
                }
            }
            catch
            {
                foreach (BatchedUdpListener? socket in sockets)
                {
                    socket?.Dispose();
                }
                throw;
            }
            return RunningListener.ForBatched(listener, sockets);
        }
        if (listener.Protocol == TransportProtocol.Udp)
        {
            return RunningListener.ForUdp(listener, new UdpListener(listener.Endpoint, this));
        }
        TlsCertificateSource? tls = listener.Protocol == TransportProtocol.Tls ? LoadCertificate(listener) : null;
        return RunningListener.ForStream(listener, new StreamListener(listener, tls, this));
    }

    /// <summary>The certificate of a TLS listener; one that cannot be loaded throws <see cref="ListenerBindException"/> naming the listener.</summary>
    private TlsCertificateSource LoadCertificate(ListenerOptions listener)
    {
        try
        {
            return new TlsCertificateSource(listener.CertificatePath!, listener.PrivateKeyPath!, Logger, Time);
        }
        catch (ListenerBindException e)
        {
            throw new ListenerBindException($"tls {listener.Endpoint}: {e.Message}", e.InnerException);
        }
    }

    /// <summary>Starts the receive or accept loop of a portable UDP or a stream listener; batched sockets are read by their loops.</summary>
    private void Run(RunningListener listener)
    {
        if (listener.Udp is { } udp)
        {
            listener.Task = Task.Run(() => udp.RunAsync(_stopping.Token));
        }
        else if (listener.Stream is { } stream)
        {
            listener.Task = Task.Run(() => stream.RunAsync(_stopping.Token));
        }
        if (listener.Task is not null)
        {
            AddBackgroundTask(listener.Task);
        }
    }

    private void AddBackgroundTask(Task task)
    {
        lock (_backgroundTasks)
        {
            _backgroundTasks.Add(task);
        }
    }

    private static void CheckRelayAddresses(TurnServerOptions options)
    {
        foreach (IPAddress? relay in new[] { options.RelayAddressIPv4, options.RelayAddressIPv6 })
        {
            if (relay is not null)
            {
                CheckRelayAddress(relay);
            }
        }
    }

    /// <summary>A relay address that is not on this host would make every Allocate fail: say so at start.</summary>
    private static void CheckRelayAddress(IPAddress address)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            probe.Bind(new IPEndPoint(address, 0));
        }
        catch (SocketException e)
        {
            throw new ListenerBindException($"relay address {address} cannot be bound on this host: {e.Message}", e);
        }
    }

    private async Task TickAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), Time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                lock (Gate)
                {
                    Server.Tick();
                }
                Interlocked.Increment(ref _ticks);
                foreach (RunningListener listener in _running)
                {
                    listener.Stream?.CloseIdleConnections();
                }
                CloseIdleConnectionsOfRetiredListeners();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    bool IRelayBinder.TryBind(in TransportAddress address, bool dontFragment, out IRelayEndpoint? endpoint)
    {
        if (!Batched)
        {
            endpoint = UdpRelayEndpoint.TryBind(address, dontFragment, this);
            return endpoint is not null;
        }
        BatchedRelayEndpoint? relay = BatchedRelayEndpoint.TryBind(address, dontFragment);
        if (relay is null)
        {
            endpoint = null;
            return false;
        }
        // The relay socket joins the loop that handled the Allocate (so its client's packets and its
        // peers' meet in one loop), or the next loop in turn for an Allocate from a TCP or TLS client.
        BatchLoop loop = BatchLoop.Current ?? _eventLoops[(int)((uint)Interlocked.Increment(ref _nextLoop) % (uint)_eventLoops.Count)];
        loop.Register(relay);
        endpoint = relay;
        return true;
    }

    internal void CountSendFailures(int count) => Interlocked.Add(ref _sendFailures, count);

    /// <summary>Carries out what the core asked for. Errors of a single send are counted, never thrown.</summary>
    internal void Execute(in TurnAction action, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> response, ScratchAddresses scratch)
    {
        if (action.Kind == TurnActionKind.None)
        {
            return;
        }
        ReadOnlySpan<byte> bytes = action.GetBytes(packet, response);
        try
        {
            if (action.Kind == TurnActionKind.SendToClient)
            {
                var sender = (IClientSender)action.ClientContext!;
                if (action.Source != ResponseSource.Received && sender is UdpListener udp)
                {
                    // RFC 5780 §6.1: a CHANGE-REQUEST answer leaves from another of the server's endpoints.
                    sender = udp.SenderFor(action.Source);
                }
                sender.SendToClient(bytes, action.Destination, scratch);
            }
            else
            {
                ((IPeerSender)action.Relay!).SendToPeer(bytes, action.Destination, scratch);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The peer's port was closed (ICMP), or the allocation ended meanwhile: UDP is best effort.
            Interlocked.Increment(ref _sendFailures);
            if (Logger.IsEnabled(LogLevel.Debug))
            {
                NetLog.SendFailed(Logger, action.Destination.ToString(), e.Message);
            }
        }
    }

    /// <summary>Stops receiving, ends every allocation (each is logged) and closes every socket.</summary>
    public async ValueTask DisposeAsync()
    {
        RunningListener[] listeners;
        lock (_listenersGate)
        {
            if (_stopping.IsCancellationRequested)
            {
                return;
            }
            _stopping.Cancel();
            listeners = [.. _running, .. _retired];
        }
        listeners = [.. listeners, .. _natDiscovery];
        foreach (RunningListener listener in listeners)
        {
            listener.Udp?.Dispose();
            listener.Stream?.Dispose();
        }
        // Loops stop first, so that nothing reads a socket while it closes; their epoll sets live on
        // until the relay sockets have left them.
        _eventLoops.ForEach(l => l.Stop());
        lock (Gate)
        {
            Server.DeleteAllAllocations("relay stopping");
        }
        foreach (RunningListener listener in listeners)
        {
            foreach (BatchedUdpListener socket in listener.Batched ?? [])
            {
                socket.Dispose();
            }
        }
        _eventLoops.ForEach(l => l.Dispose());
        Task[] tasks;
        lock (_backgroundTasks)
        {
            tasks = [.. _backgroundTasks];
        }
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            NetLog.LoopFailed(Logger, e);
        }
        _stopping.Dispose();
    }
}
