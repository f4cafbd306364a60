using System.Collections.Concurrent;
using EdgeRelay.Net.Udp;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Net.Linux;

/// <summary>
/// What the two batched backends share: a thread of their own, the core's handling of a batch of
/// datagrams under one acquisition of the engine's lock, and the sockets registered with them. A backend
/// fills the per-datagram inputs (<see cref="Received"/>, <see cref="Sources"/>, <see cref="Slots"/>,
/// <see cref="Lengths"/>, <see cref="Responses"/>) from its completions, calls <see cref="HandleBatch"/>,
/// then sends what <see cref="PrepareSend"/> says, in its own way.
/// </summary>
/// <remarks>
/// Every buffer is native memory that the backend allocates once: the relay path allocates nothing and
/// pins nothing per packet. A slot holds <see cref="TurnServer.PeerDataHeadroom"/> bytes, the datagram,
/// and <see cref="TurnServer.PeerDataTailroom"/> bytes, so that a peer's datagram becomes a ChannelData
/// message or a Data indication in place.
/// </remarks>
internal abstract unsafe class BatchLoop : IDisposable
{
    public const int BatchSize = 32;

    /// <summary>The largest datagram taken whole; a longer one (MSG_TRUNC) is dropped.</summary>
    protected const int MaxDatagram = RelayEngine.MaxUdpDatagram;
    protected const int SlotSize = TurnServer.PeerDataHeadroom + MaxDatagram + TurnServer.PeerDataTailroom + 5;
    protected const int ResponseSize = TurnServer.MinResponseBufferLength;

    [ThreadStatic]
    private static BatchLoop? s_current;

    private readonly Thread _thread;
    private readonly ScratchAddresses _scratch = new();
    private readonly TurnAction[] _actions = new TurnAction[BatchSize];
    private readonly nint[] _bases = new nint[BatchSize];

    /// <summary>Sockets that left this loop, closed by its own thread once nothing it has queued uses their descriptors.</summary>
    private readonly ConcurrentQueue<BatchedSocket> _closing = new();
    private long _allocatedBytes;
    private long _datagrams;
    private long _turns;
    private volatile bool _running = true;
    private int _disposed;

    protected BatchLoop(RelayEngine engine, int index)
    {
        Engine = engine;
        _thread = new Thread(RunOnThread) { IsBackground = true, Name = $"relay loop {index}" };
    }

    /// <summary>The loop whose thread is calling, or null on any other thread.</summary>
    public static BatchLoop? Current => s_current;

    protected RelayEngine Engine { get; }
    protected bool Running => _running;
    protected bool OnLoopThread => s_current == this;

    // Inputs of the batch being handled, one entry per datagram.
    protected BatchedSocket?[] Received { get; } = new BatchedSocket?[BatchSize];
    protected TransportAddress[] Sources { get; } = new TransportAddress[BatchSize];
    protected nint[] Slots { get; } = new nint[BatchSize];
    protected int[] Lengths { get; } = new int[BatchSize];
    protected nint[] Responses { get; } = new nint[BatchSize];

    public long Datagrams => Volatile.Read(ref _datagrams);

    /// <summary>
    /// Turns of the loop so far: it turns at least every fraction of a second, idle or not, so a count
    /// that stops means a stuck loop (what the systemd watchdog is there for).
    /// </summary>
    public long Turns => Volatile.Read(ref _turns);

    /// <summary>Called by the backend once per turn of its loop.</summary>
    protected void CountTurn() => Volatile.Write(ref _turns, _turns + 1);

    /// <summary>Bytes this loop's thread has allocated so far, sampled after every batch: the packet path should add none.</summary>
    public long AllocatedBytes => Volatile.Read(ref _allocatedBytes);

    public virtual void Start() => _thread.Start();

    /// <summary>Adds a socket; from any thread.</summary>
    public abstract void Register(BatchedSocket socket);

    /// <summary>
    /// Takes a socket out of the loop and closes it. Its descriptor is closed on the loop's thread, after
    /// the sends it has queued, so that a number the kernel hands out again is never written to as this
    /// socket's; a close from another thread waits for the loop's next turn.
    /// </summary>
    public void Unregister(BatchedSocket socket)
    {
        Remove(socket);
        _closing.Enqueue(socket);
        if (!OnLoopThread)
        {
            Wake();
        }
    }

    /// <summary>Stops reading the socket; from any thread.</summary>
    protected abstract void Remove(BatchedSocket socket);

    /// <summary>Makes the loop's thread take its turn soon (it waits at most a fraction of a second anyway).</summary>
    protected virtual void Wake()
    {
    }

    protected abstract void Run();

    private void RunOnThread()
    {
        s_current = this;
        Run();
    }

    protected bool HasRemoved => !_closing.IsEmpty;

    /// <summary>Closes the sockets that left; called by the loop between batches, never while a send is queued.</summary>
    protected void CloseRemoved()
    {
        while (_closing.TryDequeue(out BatchedSocket? socket))
        {
            socket.Close();
        }
    }

    /// <summary>
    /// Counts a batch once its sends are queued. The allocation sample is written first: a reader that sees
    /// the datagram count of a batch then sees at least the allocations made up to its end.
    /// </summary>
    protected void CountBatch(int datagrams)
    {
        Volatile.Write(ref _allocatedBytes, GC.GetAllocatedBytesForCurrentThread());
        Volatile.Write(ref _datagrams, _datagrams + datagrams);
    }

    /// <summary>Runs the core over the first <paramref name="count"/> datagrams, under one acquisition of the engine's lock.</summary>
    protected void HandleBatch(int count)
    {
        lock (Engine.Gate)
        {
            for (int i = 0; i < count; i++)
            {
                _actions[i] = TurnAction.None;
                int length = Lengths[i];
                byte* slot = (byte*)Slots[i];
                if (length < 0 || length > MaxDatagram)
                {
                    Engine.CountOversizedDatagram();
                    continue;
                }
                if (Received[i] is BatchedUdpListener listener)
                {
                    if (listener.IsRemoved)
                    {
                        continue;
                    }
                    // A client's datagram: the core's offsets are from the start of the datagram.
                    _bases[i] = (nint)(slot + TurnServer.PeerDataHeadroom);
                    var fiveTuple = new FiveTuple(Sources[i], listener.LocalAddress, TransportProtocol.Udp);
                    _actions[i] = Engine.Server.HandleClientPacket(fiveTuple, listener,
                        new ReadOnlySpan<byte>(slot + TurnServer.PeerDataHeadroom, length),
                        new Span<byte>((byte*)Responses[i], ResponseSize));
                }
                else if (Received[i] is BatchedRelayEndpoint { Allocation: { } allocation })
                {
                    // A peer's datagram: the core writes its header into the headroom, offsets from the slot.
                    _bases[i] = (nint)slot;
                    _actions[i] = Engine.Server.HandlePeerDatagram(allocation, Sources[i],
                        new Span<byte>(slot, SlotSize), TurnServer.PeerDataHeadroom, length);
                }
            }
        }
    }

    /// <summary>
    /// The UDP socket that datagram <paramref name="i"/>'s answer leaves from, or null when there is
    /// nothing for this loop to send: no answer, or a TCP or TLS client, whose connection queues the
    /// bytes for its own writer (done here).
    /// </summary>
    protected BatchedSocket? PrepareSend(int i)
    {
        ref TurnAction action = ref _actions[i];
        if (action.Kind == TurnActionKind.None)
        {
            return null;
        }
        BatchedSocket? from = action.Kind == TurnActionKind.SendToPeer
            ? action.Relay as BatchedSocket
            : (action.ClientContext as BatchedUdpListener)?.SenderFor(action.Source);
        if (from is null)
        {
            byte* slot = (byte*)Slots[i];
            int baseLength = SlotSize - (int)((byte*)_bases[i] - slot);
            Engine.Execute(action, new ReadOnlySpan<byte>((byte*)_bases[i], baseLength),
                new ReadOnlySpan<byte>((byte*)Responses[i], ResponseSize), _scratch);
        }
        return from;
    }

    /// <summary>The bytes to send for datagram <paramref name="i"/>, once <see cref="PrepareSend"/> named a socket.</summary>
    protected byte* Outgoing(int i, out int length)
    {
        ref TurnAction action = ref _actions[i];
        length = action.Length;
        return (action.InResponseBuffer ? (byte*)Responses[i] : (byte*)_bases[i]) + action.Offset;
    }

    /// <summary>Where datagram <paramref name="i"/>'s answer goes.</summary>
    protected TransportAddress Destination(int i) => _actions[i].Destination;

    public void Stop()
    {
        _running = false;
        Wake();
        if (_thread.IsAlive && Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
    }

    public void Dispose()
    {
        // Once only: a second Wake would write to a descriptor number the kernel may have reused.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        Stop();
        CloseRemoved();
        ReleaseNative();
    }

    /// <summary>Frees the backend's native memory and descriptors, once its thread has ended.</summary>
    protected abstract void ReleaseNative();
}
