using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using EdgeRelay.Net.Udp;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Net.Linux;

/// <summary>
/// One event loop on its own thread: epoll tells which of its UDP sockets are readable, recvmmsg takes up
/// to <see cref="BatchSize"/> datagrams in one system call, the core handles the whole batch under one
/// acquisition of the engine's lock, and sendmmsg sends the answers in runs per socket. Every buffer is
/// allocated once, in native memory, so the relay path allocates nothing and pins nothing per packet.
/// </summary>
internal sealed unsafe class EpollLoop : IDisposable
{
    public const int BatchSize = 32;
    private const int MaxEvents = 64;
    private const int WaitMilliseconds = 200;

    /// <summary>The largest datagram taken whole; a longer one (MSG_TRUNC) is dropped.</summary>
    private const int MaxDatagram = UdpRelayEndpoint.MaxPeerDatagram;
    private const int SlotSize = TurnServer.PeerDataHeadroom + MaxDatagram + TurnServer.PeerDataTailroom + 5;
    private const int ResponseSize = TurnServer.MinResponseBufferLength;

    [ThreadStatic]
    private static EpollLoop? s_current;

    private readonly RelayEngine _engine;
    private readonly int _epfd;
    private readonly ConcurrentDictionary<int, BatchedSocket> _sockets = new();
    private readonly Thread _thread;
    private readonly TurnAction[] _actions = new TurnAction[BatchSize];
    private readonly ScratchAddresses _scratch = new();
    private volatile bool _running = true;

    // Native memory: receive slots, responses, and the message headers that point into them.
    private readonly byte* _slots;
    private readonly byte* _responses;
    private readonly byte* _recvNames;
    private readonly Libc.IoVec* _recvIov;
    private readonly Libc.MMsgHdr* _recvMsgs;
    private readonly byte* _sendNames;
    private readonly Libc.IoVec* _sendIov;
    private readonly Libc.MMsgHdr* _sendMsgs;
    private readonly byte** _bases;
    private readonly byte* _events;

    public EpollLoop(RelayEngine engine, int index)
    {
        _engine = engine;
        _epfd = Libc.EpollCreate1(Libc.EpollCloexec);
        if (_epfd < 0)
        {
            throw new InvalidOperationException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        }
        _slots = (byte*)NativeMemory.AllocZeroed((nuint)(BatchSize * SlotSize));
        _responses = (byte*)NativeMemory.AllocZeroed((nuint)(BatchSize * ResponseSize));
        _recvNames = (byte*)NativeMemory.AllocZeroed((nuint)(BatchSize * Libc.SockaddrIn6Size));
        _recvIov = (Libc.IoVec*)NativeMemory.AllocZeroed((nuint)(BatchSize * sizeof(Libc.IoVec)));
        _recvMsgs = (Libc.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(BatchSize * sizeof(Libc.MMsgHdr)));
        _sendNames = (byte*)NativeMemory.AllocZeroed((nuint)(BatchSize * Libc.SockaddrIn6Size));
        _sendIov = (Libc.IoVec*)NativeMemory.AllocZeroed((nuint)(BatchSize * sizeof(Libc.IoVec)));
        _sendMsgs = (Libc.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(BatchSize * sizeof(Libc.MMsgHdr)));
        _bases = (byte**)NativeMemory.AllocZeroed((nuint)(BatchSize * sizeof(byte*)));
        _events = (byte*)NativeMemory.AllocZeroed((nuint)(MaxEvents * Libc.EpollEventSize));
        for (int i = 0; i < BatchSize; i++)
        {
            _recvMsgs[i].Header.Name = _recvNames + i * Libc.SockaddrIn6Size;
            _recvMsgs[i].Header.Iov = &_recvIov[i];
            _recvMsgs[i].Header.IovLength = 1;
            _recvIov[i].Base = Packet(i);
            _sendMsgs[i].Header.Name = _sendNames + i * Libc.SockaddrIn6Size;
            _sendMsgs[i].Header.Iov = &_sendIov[i];
            _sendMsgs[i].Header.IovLength = 1;
        }
        _thread = new Thread(Run) { IsBackground = true, Name = $"relay loop {index}" };
    }

    /// <summary>The loop whose thread is calling, or null on any other thread.</summary>
    public static EpollLoop? Current => s_current;

    public long Datagrams { get; private set; }

    /// <summary>Bytes this loop's thread has allocated so far, sampled after every batch: the packet path should add none.</summary>
    public long AllocatedBytes => Volatile.Read(ref _allocatedBytes);

    private long _allocatedBytes;

    public void Start() => _thread.Start();

    public void Register(BatchedSocket socket)
    {
        socket.Loop = this;
        _sockets[socket.Fd] = socket;
        byte* ev = stackalloc byte[16];
        *(uint*)ev = Libc.EpollIn;
        *(ulong*)(ev + Libc.EpollEventDataOffset) = (ulong)socket.Fd;
        if (Libc.EpollCtl(_epfd, Libc.EpollCtlAdd, socket.Fd, ev) != 0)
        {
            _sockets.TryRemove(socket.Fd, out _);
            throw new InvalidOperationException($"epoll_ctl ADD failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Unregister(BatchedSocket socket)
    {
        // Before the socket closes, so that its descriptor, once reused, is not read as this socket's.
        Libc.EpollCtl(_epfd, Libc.EpollCtlDel, socket.Fd, null);
        _sockets.TryRemove(new KeyValuePair<int, BatchedSocket>(socket.Fd, socket));
    }

    private byte* Packet(int slot) => _slots + slot * SlotSize + TurnServer.PeerDataHeadroom;

    private void Run()
    {
        s_current = this;
        while (_running)
        {
            int ready = Libc.EpollWait(_epfd, _events, MaxEvents, WaitMilliseconds);
            if (ready < 0)
            {
                continue; // EINTR
            }
            for (int e = 0; e < ready && _running; e++)
            {
                int fd = (int)*(ulong*)(_events + e * Libc.EpollEventSize + Libc.EpollEventDataOffset);
                if (_sockets.TryGetValue(fd, out BatchedSocket? socket))
                {
                    Drain(socket);
                }
            }
        }
    }

    /// <summary>Reads the socket in batches until it is empty, or for a few batches so that others get their turn.</summary>
    private void Drain(BatchedSocket socket)
    {
        for (int round = 0; round < 8; round++)
        {
            for (int i = 0; i < BatchSize; i++)
            {
                _recvMsgs[i].Header.NameLength = Libc.SockaddrIn6Size;
                _recvMsgs[i].Header.Flags = 0;
                _recvIov[i].Length = MaxDatagram + 1;
            }
            int count = Libc.RecvMmsg(socket.Fd, _recvMsgs, BatchSize, Libc.MsgDontWait, null);
            if (count <= 0)
            {
                return;
            }
            Datagrams += count;
            Handle(socket, count);
            Send(count);
            Volatile.Write(ref _allocatedBytes, GC.GetAllocatedBytesForCurrentThread());
            if (count < BatchSize)
            {
                return;
            }
        }
    }

    private void Handle(BatchedSocket socket, int count)
    {
        var listener = socket as BatchedUdpListener;
        var relay = socket as BatchedRelayEndpoint;
        lock (_engine.Gate)
        {
            for (int i = 0; i < count; i++)
            {
                int length = (int)_recvMsgs[i].Length;
                TransportAddress source = SockaddrCodec.Read((byte*)_recvMsgs[i].Header.Name);
                _actions[i] = TurnAction.None;
                if ((_recvMsgs[i].Header.Flags & Libc.MsgTrunc) != 0 || length > MaxDatagram)
                {
                    continue;
                }
                if (listener is not null)
                {
                    // A client's datagram: the core's offsets are from the start of the datagram.
                    _bases[i] = Packet(i);
                    var fiveTuple = new FiveTuple(source, listener.LocalAddress, TransportProtocol.Udp);
                    _actions[i] = _engine.Server.HandleClientPacket(fiveTuple, listener, new ReadOnlySpan<byte>(_bases[i], length),
                        new Span<byte>(_responses + i * ResponseSize, ResponseSize));
                }
                else if (relay?.Allocation is { } allocation)
                {
                    // A peer's datagram: the core writes its header into the headroom, offsets from the slot.
                    _bases[i] = _slots + i * SlotSize;
                    _actions[i] = _engine.Server.HandlePeerDatagram(allocation, source,
                        new Span<byte>(_bases[i], SlotSize), TurnServer.PeerDataHeadroom, length);
                }
            }
        }
    }

    /// <summary>
    /// Sends what the batch asked for. Datagrams are grouped by the socket they leave from (keeping their
    /// order within a socket), so that each socket gets one sendmmsg for the whole batch: client→peer
    /// traffic of many allocations interleaves in a batch, and would otherwise cost a call per datagram.
    /// </summary>
    private void Send(int count)
    {
        int* fds = stackalloc int[BatchSize];
        for (int i = 0; i < count; i++)
        {
            fds[i] = -1;
            ref TurnAction action = ref _actions[i];
            if (action.Kind == TurnActionKind.None)
            {
                continue;
            }
            BatchedSocket? from = action.Kind == TurnActionKind.SendToPeer
                ? action.Relay as BatchedSocket
                : action.ClientContext as BatchedUdpListener;
            if (from is null)
            {
                // A TCP or TLS client: its connection queues the bytes for its own writer.
                int baseLength = SlotSize - (int)(_bases[i] - (_slots + i * SlotSize));
                _engine.Execute(action, new ReadOnlySpan<byte>(_bases[i], baseLength),
                    new ReadOnlySpan<byte>(_responses + i * ResponseSize, ResponseSize), _scratch);
                continue;
            }
            fds[i] = from.Fd;
        }

        int queued = 0;
        for (int i = 0; i < count; i++)
        {
            int fd = fds[i];
            if (fd < 0)
            {
                continue;
            }
            int start = queued;
            for (int j = i; j < count; j++)
            {
                if (fds[j] != fd)
                {
                    continue;
                }
                fds[j] = -1;
                ref TurnAction action = ref _actions[j];
                BatchedSocket from = action.Kind == TurnActionKind.SendToPeer ? (BatchedSocket)action.Relay! : (BatchedSocket)action.ClientContext!;
                _sendIov[queued].Base = (action.InResponseBuffer ? _responses + j * ResponseSize : _bases[j]) + action.Offset;
                _sendIov[queued].Length = (nuint)action.Length;
                _sendMsgs[queued].Header.NameLength = SockaddrCodec.Write((byte*)_sendMsgs[queued].Header.Name, action.Destination, from.IsIPv6);
                queued++;
            }
            SendRun(fd, start, queued);
        }
    }

    private void SendRun(int fd, int start, int end)
    {
        while (start < end)
        {
            int sent = Libc.SendMmsg(fd, _sendMsgs + start, (uint)(end - start), Libc.MsgDontWait);
            // sendmmsg stops at the first datagram that fails (a full buffer, an ICMP error reported
            // late): UDP is best effort, so that one is dropped and the rest of the run goes on.
            start += Math.Max(sent, 0);
            if (start < end)
            {
                _engine.CountSendFailures(1);
                start++;
            }
        }
    }

    public void Stop()
    {
        _running = false;
        if (_thread.IsAlive && Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
    }

    public void Dispose()
    {
        Stop();
        Libc.Close(_epfd);
        NativeMemory.Free(_slots);
        NativeMemory.Free(_responses);
        NativeMemory.Free(_recvNames);
        NativeMemory.Free(_recvIov);
        NativeMemory.Free(_recvMsgs);
        NativeMemory.Free(_sendNames);
        NativeMemory.Free(_sendIov);
        NativeMemory.Free(_sendMsgs);
        NativeMemory.Free(_bases);
        NativeMemory.Free(_events);
    }
}
