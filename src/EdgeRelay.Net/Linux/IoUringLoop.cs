using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using EdgeRelay.Turn;

namespace EdgeRelay.Net.Linux;

/// <summary>
/// The io_uring backend. Every socket of the loop has one multishot recvmsg outstanding that takes its
/// buffers from a ring of provided buffers, so a datagram costs no system call to receive; the answers of
/// a batch go out as sendmsg entries submitted together with the wait for the next completions, so a
/// turn of the loop is one io_uring_enter for everything. With IORING_SETUP_DEFER_TASKRUN the kernel
/// does the receive work when the loop asks for completions, which batches it as well.
/// </summary>
/// <remarks>
/// A provided buffer is laid out as io_uring_recvmsg_out (16 bytes), the source address (in a
/// name field sized so that the two fill <see cref="TurnServer.PeerDataHeadroom"/>), and the datagram:
/// the core writes a ChannelData or Data indication header over the first two once they are read, as in
/// the other backend's slots. A buffer whose datagram is sent on stays out of the ring until the send's
/// completion.
/// </remarks>
internal sealed unsafe class IoUringLoop : BatchLoop
{
    private const int BufferCount = 256;
    private const ushort BufferGroup = 0;
    private const int NameLength = TurnServer.PeerDataHeadroom - 16;
    private const uint BufferLength = TurnServer.PeerDataHeadroom + MaxDatagram + 1;
    private const uint SubmissionEntries = 256;
    private const uint CompletionEntries = 4096;
    private const long WaitNanoseconds = 200_000_000;

    private const ulong KindRecv = 1, KindSend = 2, KindCancel = 3, KindWake = 4;

    private static uint s_nextToken;

    private readonly ConcurrentQueue<(BatchedSocket Socket, bool Add)> _changes = new();
    private readonly Dictionary<uint, BatchedSocket> _sockets = [];
    private readonly List<BatchedSocket> _rearm = [];
    private readonly ushort[] _bids = new ushort[BatchSize];
    private readonly ManualResetEventSlim _started = new();
    private Exception? _startFailure;
    private IoUringRing? _ring;
    private ushort _bufferTail;

    private readonly int _eventFd;
    private readonly byte* _buffers;
    private readonly byte* _responses;
    private readonly IoUring.Buf* _bufferRing;
    private readonly Libc.MsgHdr* _recvHeader;
    private readonly Libc.MsgHdr* _sendHeaders;
    private readonly Libc.IoVec* _sendIov;
    private readonly byte* _sendNames;
    private readonly ulong* _wakeValue;
    private readonly IoUring.GetEventsArg* _waitArg;

    public IoUringLoop(RelayEngine engine, int index) : base(engine, index)
    {
        _eventFd = Libc.EventFd(0, Libc.EfdCloexec | Libc.EfdNonblock);
        if (_eventFd < 0)
        {
            throw new InvalidOperationException($"eventfd failed: errno {Marshal.GetLastPInvokeError()}");
        }
        _buffers = (byte*)NativeMemory.AllocZeroed((nuint)(BufferCount * SlotSize));
        _responses = (byte*)NativeMemory.AllocZeroed((nuint)(BufferCount * ResponseSize));
        _bufferRing = AllocBufferRing(BufferCount);
        _recvHeader = (Libc.MsgHdr*)NativeMemory.AllocZeroed((nuint)sizeof(Libc.MsgHdr));
        _recvHeader->NameLength = NameLength;
        _sendHeaders = (Libc.MsgHdr*)NativeMemory.AllocZeroed((nuint)(BufferCount * sizeof(Libc.MsgHdr)));
        _sendIov = (Libc.IoVec*)NativeMemory.AllocZeroed((nuint)(BufferCount * sizeof(Libc.IoVec)));
        _sendNames = (byte*)NativeMemory.AllocZeroed((nuint)(BufferCount * Libc.SockaddrIn6Size));
        for (int bid = 0; bid < BufferCount; bid++)
        {
            _sendHeaders[bid].Name = _sendNames + bid * Libc.SockaddrIn6Size;
            _sendHeaders[bid].Iov = &_sendIov[bid];
            _sendHeaders[bid].IovLength = 1;
        }
        _wakeValue = (ulong*)NativeMemory.AllocZeroed(8);
        _waitArg = (IoUring.GetEventsArg*)NativeMemory.AllocZeroed((nuint)(sizeof(IoUring.GetEventsArg) + sizeof(IoUring.KernelTimespec)));
        var timeout = (IoUring.KernelTimespec*)(_waitArg + 1);
        timeout->Nanoseconds = WaitNanoseconds;
        _waitArg->Ts = (ulong)timeout;
    }

    /// <summary>The flag sets tried in turn: the best first, then what kernels before 6.1 accept.</summary>
    private static readonly uint[] s_setupFlags =
    [
        IoUring.SetupSubmitAll | IoUring.SetupSingleIssuer | IoUring.SetupDeferTaskRun,
        IoUring.SetupSubmitAll | IoUring.SetupCoopTaskRun,
        0,
    ];

    /// <summary>
    /// Whether this kernel and process may use this backend: io_uring allowed (not disabled by sysctl or
    /// a seccomp filter), EXT_ARG waits, provided buffer rings and multishot recvmsg (Linux 6.0). Tried
    /// for real on a loopback socket; returns null when it works, or why not.
    /// </summary>
    public static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "io_uring needs Linux";
        }
        IoUringRing? ring = CreateRing(8, 16, out string? failure);
        if (ring is null)
        {
            return failure;
        }
        IoUring.Buf* bufferRing = AllocBufferRing(2);
        byte* buffer = (byte*)NativeMemory.AllocZeroed(256);
        var header = (Libc.MsgHdr*)NativeMemory.AllocZeroed((nuint)sizeof(Libc.MsgHdr));
        IoUring.GetEventsArg* waitArg = stackalloc IoUring.GetEventsArg[1];
        IoUring.KernelTimespec* timeout = stackalloc IoUring.KernelTimespec[1];
        *waitArg = default;
        *timeout = new IoUring.KernelTimespec { Seconds = 1 };
        waitArg->Ts = (ulong)timeout;
        try
        {
            if (!RegisterBufferRing(ring, bufferRing, 2, out failure))
            {
                return failure;
            }
            AddBuffer(bufferRing, 2, 0, buffer, 256, 0);
            PublishBuffers(bufferRing, 1);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            header->NameLength = NameLength;
            PrepareRecv(ring.TryGetSqe(), (int)socket.Handle, header, 1);
            sender.SendTo("probe"u8, socket.LocalEndPoint!);
            for (int attempt = 0; attempt < 3; attempt++)
            {
                int result = ring.SubmitAndWait(true, waitArg);
                if (result < 0 && result != -IoUring.Eintr && result != -IoUring.Etime)
                {
                    return $"io_uring_enter failed: errno {-result}";
                }
                if (ring.TryTakeCqe(out IoUring.Cqe cqe))
                {
                    return cqe.Res < 0 ? $"multishot recvmsg with provided buffers failed: errno {-cqe.Res}"
                        : (cqe.Flags & IoUring.CqeFMore) == 0 ? "multishot recvmsg is not supported (Linux 6.0 or later)"
                        : null;
                }
            }
            return "multishot recvmsg did not complete on loopback";
        }
        finally
        {
            ring.Dispose();
            NativeMemory.AlignedFree(bufferRing);
            NativeMemory.Free(buffer);
            NativeMemory.Free(header);
        }
    }

    private static IoUringRing? CreateRing(uint entries, uint completions, out string? failure)
    {
        int errno = 0;
        foreach (uint flags in s_setupFlags)
        {
            IoUringRing? ring = IoUringRing.TryCreate(entries, completions, flags, out errno);
            if (ring is null)
            {
                if (errno == 22) // EINVAL: a flag this kernel does not know
                {
                    continue;
                }
                break;
            }
            if ((ring.Features & IoUring.FeatExtArg) == 0)
            {
                ring.Dispose();
                failure = "io_uring lacks IORING_FEAT_EXT_ARG (Linux 5.11 or later)";
                return null;
            }
            failure = null;
            return ring;
        }
        failure = errno switch
        {
            1 or 13 => "io_uring is not permitted (kernel.io_uring_disabled, or a seccomp filter)",
            38 => "io_uring is not in this kernel",
            _ => $"io_uring_setup failed: errno {errno}",
        };
        return null;
    }

    private static IoUring.Buf* AllocBufferRing(int count)
    {
        // The kernel maps the ring as whole pages: it must start on one.
        nuint size = (nuint)Math.Max(count * sizeof(IoUring.Buf), Environment.SystemPageSize);
        var ring = (IoUring.Buf*)NativeMemory.AlignedAlloc(size, (nuint)Environment.SystemPageSize);
        NativeMemory.Clear(ring, size);
        return ring;
    }

    private static bool RegisterBufferRing(IoUringRing ring, IoUring.Buf* bufferRing, int count, out string? failure)
    {
        var registration = new IoUring.BufReg { RingAddr = (ulong)bufferRing, RingEntries = (uint)count, Bgid = BufferGroup };
        if (IoUring.Register(ring.Fd, IoUring.RegisterPbufRing, &registration, 1) < 0)
        {
            failure = $"provided buffer rings are not supported (Linux 5.19 or later): errno {Marshal.GetLastPInvokeError()}";
            return false;
        }
        failure = null;
        return true;
    }

    /// <summary>Puts a buffer at position <paramref name="index"/>; entry 0's last field is the ring's tail, so it is never written here.</summary>
    private static void AddBuffer(IoUring.Buf* bufferRing, int count, ushort index, byte* buffer, uint length, ushort bid)
    {
        IoUring.Buf* entry = &bufferRing[index & (count - 1)];
        entry->Addr = (ulong)buffer;
        entry->Len = length;
        entry->Bid = bid;
    }

    /// <summary>Makes the buffers added so far visible to the kernel (a release store of the tail).</summary>
    private static void PublishBuffers(IoUring.Buf* bufferRing, ushort tail) =>
        Volatile.Write(ref *(ushort*)((byte*)bufferRing + 14), tail);

    private static void PrepareRecv(IoUring.Sqe* sqe, int fd, Libc.MsgHdr* header, ulong userData)
    {
        sqe->Opcode = IoUring.OpRecvMsg;
        sqe->Fd = fd;
        sqe->Addr = (ulong)header;
        sqe->Len = 1;
        sqe->IoPrio = IoUring.RecvMultishot;
        sqe->Flags = IoUring.SqeBufferSelect;
        sqe->BufGroup = BufferGroup;
        sqe->UserData = userData;
    }

    public override void Start()
    {
        base.Start();
        _started.Wait();
        if (_startFailure is not null)
        {
            throw new InvalidOperationException($"io_uring loop could not start: {_startFailure.Message}", _startFailure);
        }
    }

    public override void Register(BatchedSocket socket)
    {
        socket.Loop = this;
        socket.Token = Interlocked.Increment(ref s_nextToken);
        _changes.Enqueue((socket, true));
        if (!OnLoopThread)
        {
            Wake();
        }
    }

    protected override void Remove(BatchedSocket socket) => _changes.Enqueue((socket, false));

    protected override void Wake()
    {
        ulong one = 1;
        Libc.Write(_eventFd, &one, 8);
    }

    protected override void Run()
    {
        // The ring is created on this thread: with SINGLE_ISSUER only it may submit.
        _ring = CreateRing(SubmissionEntries, CompletionEntries, out string? failure);
        if (_ring is null || !RegisterBufferRing(_ring, _bufferRing, BufferCount, out failure))
        {
            _startFailure = new InvalidOperationException(failure);
            _started.Set();
            return;
        }
        for (int bid = 0; bid < BufferCount; bid++)
        {
            Recycle((ushort)bid);
        }
        PublishBuffers(_bufferRing, _bufferTail);
        _started.Set();
        ArmWake();

        while (Running)
        {
            ApplyChanges();
            _ring.SubmitAndWait(true, _waitArg);
            Reap();
            if (HasRemoved)
            {
                // The sends queued for a socket that left must reach the kernel before its descriptor closes.
                ApplyChanges();
                _ring.SubmitAndWait(false, null);
                CloseRemoved();
            }
            CountTurn();
        }
        IoUring.BufReg registration = new() { Bgid = BufferGroup };
        IoUring.Register(_ring.Fd, IoUring.RegisterUnregisterPbufRing, &registration, 1);
        _ring.Dispose();
        _ring = null;
    }

    private void ApplyChanges()
    {
        while (_changes.TryDequeue(out (BatchedSocket Socket, bool Add) change))
        {
            if (change.Add)
            {
                _sockets[change.Socket.Token] = change.Socket;
                PrepareRecv(NextSqe(), change.Socket.Fd, _recvHeader, UserData(KindRecv, change.Socket.Token));
            }
            else if (_sockets.Remove(change.Socket.Token))
            {
                // The receive holds the file open until it is cancelled.
                IoUring.Sqe* sqe = NextSqe();
                sqe->Opcode = IoUring.OpAsyncCancel;
                sqe->Addr = UserData(KindRecv, change.Socket.Token);
                sqe->Fd = -1;
                sqe->UserData = UserData(KindCancel, 0);
            }
        }
    }

    private void ArmWake()
    {
        IoUring.Sqe* sqe = NextSqe();
        sqe->Opcode = IoUring.OpRead;
        sqe->Fd = _eventFd;
        sqe->Addr = (ulong)_wakeValue;
        sqe->Len = 8;
        sqe->UserData = UserData(KindWake, 0);
    }

    /// <summary>Takes every completion there is, handing datagrams to the core in batches.</summary>
    private void Reap()
    {
        int count = 0;
        while (_ring!.TryTakeCqe(out IoUring.Cqe cqe))
        {
            uint value = (uint)cqe.UserData;
            switch (cqe.UserData >> 32)
            {
                case KindRecv:
                    if (TakeDatagram(cqe, value, count))
                    {
                        if (++count == BatchSize)
                        {
                            Process(count);
                            count = 0;
                        }
                    }
                    break;
                case KindSend:
                    if (cqe.Res < 0)
                    {
                        // MSG_DONTWAIT: a full socket buffer drops the datagram, as UDP may.
                        Engine.CountSendFailures(1);
                    }
                    Recycle((ushort)value);
                    break;
                case KindWake:
                    ArmWake();
                    break;
            }
        }
        if (count > 0)
        {
            Process(count);
        }
        PublishBuffers(_bufferRing, _bufferTail);
        foreach (BatchedSocket socket in _rearm)
        {
            if (_sockets.ContainsKey(socket.Token))
            {
                PrepareRecv(NextSqe(), socket.Fd, _recvHeader, UserData(KindRecv, socket.Token));
            }
        }
        _rearm.Clear();
    }

    /// <summary>Reads one receive completion into batch entry <paramref name="i"/>; false when it carries no datagram for the core.</summary>
    private bool TakeDatagram(in IoUring.Cqe cqe, uint token, int i)
    {
        _sockets.TryGetValue(token, out BatchedSocket? socket);
        if ((cqe.Flags & IoUring.CqeFMore) == 0 && socket is not null)
        {
            // The multishot receive ended (ENOBUFS when every buffer was out, or an error): arm it again
            // once this turn's buffers are back.
            _rearm.Add(socket);
        }
        if ((cqe.Flags & IoUring.CqeFBuffer) == 0)
        {
            return false;
        }
        ushort bid = (ushort)(cqe.Flags >> IoUring.CqeBufferShift);
        byte* buffer = _buffers + bid * SlotSize;
        var header = (IoUring.RecvMsgOut*)buffer;
        if (socket is null || cqe.Res < TurnServer.PeerDataHeadroom || (header->Flags & Libc.MsgTrunc) != 0
            || header->PayloadLength > MaxDatagram)
        {
            if (socket is not null && cqe.Res >= TurnServer.PeerDataHeadroom)
            {
                Engine.CountOversizedDatagram();
            }
            Recycle(bid);
            return false;
        }
        _bids[i] = bid;
        Received[i] = socket;
        Sources[i] = SockaddrCodec.Read(buffer + 16);
        Slots[i] = (nint)buffer;
        Lengths[i] = (int)header->PayloadLength;
        Responses[i] = (nint)(_responses + bid * ResponseSize);
        return true;
    }

    private void Process(int count)
    {
        HandleBatch(count);
        for (int i = 0; i < count; i++)
        {
            ushort bid = _bids[i];
            if (PrepareSend(i) is not { } from)
            {
                Recycle(bid);
                continue;
            }
            // The message header, address and buffer stay this bid's until the send completes.
            _sendIov[bid].Base = Outgoing(i, out int length);
            _sendIov[bid].Length = (nuint)length;
            _sendHeaders[bid].NameLength = SockaddrCodec.Write((byte*)_sendHeaders[bid].Name, Destination(i), from.IsIPv6);
            IoUring.Sqe* sqe = NextSqe();
            sqe->Opcode = IoUring.OpSendMsg;
            sqe->Fd = from.Fd;
            sqe->Addr = (ulong)&_sendHeaders[bid];
            sqe->Len = 1;
            sqe->OpFlags = Libc.MsgDontWait;
            sqe->UserData = UserData(KindSend, bid);
        }
        CountBatch(count);
    }

    private void Recycle(ushort bid)
    {
        AddBuffer(_bufferRing, BufferCount, _bufferTail, _buffers + bid * SlotSize, BufferLength, bid);
        _bufferTail++;
    }

    /// <summary>A free submission entry, submitting what is queued when there is none.</summary>
    private IoUring.Sqe* NextSqe()
    {
        IoUring.Sqe* sqe = _ring!.TryGetSqe();
        while (sqe is null)
        {
            _ring.SubmitAndWait(false, null);
            sqe = _ring.TryGetSqe();
        }
        return sqe;
    }

    private static ulong UserData(ulong kind, uint value) => kind << 32 | value;

    protected override void ReleaseNative()
    {
        _ring?.Dispose(); // only when the thread never ran its teardown
        Libc.Close(_eventFd);
        NativeMemory.Free(_buffers);
        NativeMemory.Free(_responses);
        NativeMemory.AlignedFree(_bufferRing);
        NativeMemory.Free(_recvHeader);
        NativeMemory.Free(_sendHeaders);
        NativeMemory.Free(_sendIov);
        NativeMemory.Free(_sendNames);
        NativeMemory.Free(_wakeValue);
        NativeMemory.Free(_waitArg);
        _started.Dispose();
    }
}
