using System.Runtime.InteropServices;

namespace EdgeRelay.Net.Linux;

/// <summary>
/// The parts of io_uring (include/uapi/linux/io_uring.h) that <see cref="IoUringLoop"/> uses, through the
/// raw system calls: no liburing is needed on the box. The system call numbers are those of the
/// generic table, the same on x86_64 and aarch64.
/// </summary>
internal static unsafe partial class IoUring
{
    private const long SysSetup = 425, SysEnter = 426, SysRegister = 427;

    // io_uring_params.flags
    public const uint SetupCqSize = 1u << 3;
    public const uint SetupSubmitAll = 1u << 7;
    public const uint SetupCoopTaskRun = 1u << 8;
    public const uint SetupSingleIssuer = 1u << 12;
    public const uint SetupDeferTaskRun = 1u << 13;

    // io_uring_params.features
    public const uint FeatSingleMmap = 1u << 0;
    public const uint FeatNoDrop = 1u << 1;
    public const uint FeatExtArg = 1u << 8;

    // io_uring_enter flags
    public const uint EnterGetEvents = 1u << 0;
    public const uint EnterExtArg = 1u << 3;

    // Opcodes
    public const byte OpNop = 0;
    public const byte OpSendMsg = 9;
    public const byte OpRecvMsg = 10;
    public const byte OpAsyncCancel = 14;
    public const byte OpRead = 22;

    // sqe.flags and sqe.ioprio
    public const byte SqeBufferSelect = 1 << 5;
    public const ushort RecvMultishot = 1 << 1;

    // cqe.flags
    public const uint CqeFBuffer = 1u << 0;
    public const uint CqeFMore = 1u << 1;
    public const int CqeBufferShift = 16;

    public const uint RegisterPbufRing = 22;
    public const uint RegisterUnregisterPbufRing = 23;

    public const long OffSqRing = 0;
    public const long OffCqRing = 0x8000000;
    public const long OffSqes = 0x10000000;

    public const int Enobufs = 105, Ecanceled = 125, Etime = 62, Eintr = 4, Ebusy = 16, Eagain = 11, Enoent = 2;

    [StructLayout(LayoutKind.Sequential)]
    public struct SqringOffsets
    {
        public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1;
        public ulong UserAddr;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CqringOffsets
    {
        public uint Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1;
        public ulong UserAddr;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Params
    {
        public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd, Resv0, Resv1, Resv2;
        public SqringOffsets SqOff;
        public CqringOffsets CqOff;
    }

    /// <summary>A submission queue entry (64 bytes), with the fields named as the operations here use them.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    public struct Sqe
    {
        [FieldOffset(0)] public byte Opcode;
        [FieldOffset(1)] public byte Flags;
        [FieldOffset(2)] public ushort IoPrio;
        [FieldOffset(4)] public int Fd;
        [FieldOffset(8)] public ulong Off;
        [FieldOffset(16)] public ulong Addr;
        [FieldOffset(24)] public uint Len;
        [FieldOffset(28)] public uint OpFlags;
        [FieldOffset(32)] public ulong UserData;
        [FieldOffset(40)] public ushort BufGroup;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Cqe
    {
        public ulong UserData;
        public int Res;
        public uint Flags;
    }

    /// <summary>struct io_uring_buf: one provided buffer. The ring's tail is the resv field of entry 0.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Buf
    {
        public ulong Addr;
        public uint Len;
        public ushort Bid;
        public ushort Resv;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct BufReg
    {
        public ulong RingAddr;
        public uint RingEntries;
        public ushort Bgid;
        public ushort Flags;
        public ulong Resv0, Resv1, Resv2;
    }

    /// <summary>struct io_uring_recvmsg_out, in front of what a multishot recvmsg puts in a buffer.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RecvMsgOut
    {
        public uint NameLength;
        public uint ControlLength;
        public uint PayloadLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct GetEventsArg
    {
        public ulong Sigmask;
        public uint SigmaskSize;
        public uint MinWaitUsec;
        public ulong Ts;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct KernelTimespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    // glibc's syscall(2) is variadic; on x86_64 and aarch64 Linux, integer arguments of a variadic call
    // travel exactly as those of a fixed one, so it is declared with fixed arguments.
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    public static int Setup(uint entries, Params* p) => (int)Syscall(SysSetup, entries, (long)p, 0, 0, 0, 0);

    public static int Enter(int fd, uint toSubmit, uint minComplete, uint flags, void* arg, nuint argSize) =>
        (int)Syscall(SysEnter, fd, toSubmit, minComplete, flags, (long)arg, (long)argSize);

    public static int Register(int fd, uint opcode, void* arg, uint count) =>
        (int)Syscall(SysRegister, fd, opcode, (long)arg, count, 0, 0);
}

/// <summary>
/// One io_uring instance: the submission and completion rings mapped into this process. Not thread-safe:
/// it belongs to the thread that created it (IORING_SETUP_SINGLE_ISSUER).
/// </summary>
internal sealed unsafe class IoUringRing : IDisposable
{
    private readonly byte* _rings;
    private readonly nuint _ringsSize;
    private readonly byte* _cqRing;
    private readonly nuint _cqRingSize;
    private readonly IoUring.Sqe* _sqes;
    private readonly nuint _sqesSize;
    private readonly uint* _sqHead, _sqTail, _cqHead, _cqTail;
    private readonly uint _sqMask, _sqEntries, _cqMask;
    private readonly IoUring.Cqe* _cqes;
    private uint _sqLocalTail;
    private uint _submittedTail;

    private IoUringRing(int fd, in IoUring.Params p)
    {
        Fd = fd;
        Features = p.Features;
        _ringsSize = Math.Max(p.SqOff.Array + p.SqEntries * sizeof(uint), p.CqOff.Cqes + p.CqEntries * (uint)sizeof(IoUring.Cqe));
        _rings = Map(_ringsSize, fd, IoUring.OffSqRing);
        if ((p.Features & IoUring.FeatSingleMmap) != 0)
        {
            _cqRing = _rings;
        }
        else
        {
            _cqRingSize = p.CqOff.Cqes + p.CqEntries * (uint)sizeof(IoUring.Cqe);
            _cqRing = Map(_cqRingSize, fd, IoUring.OffCqRing);
        }
        _sqesSize = p.SqEntries * (uint)sizeof(IoUring.Sqe);
        _sqes = (IoUring.Sqe*)Map(_sqesSize, fd, IoUring.OffSqes);

        _sqHead = (uint*)(_rings + p.SqOff.Head);
        _sqTail = (uint*)(_rings + p.SqOff.Tail);
        _sqMask = *(uint*)(_rings + p.SqOff.RingMask);
        _sqEntries = *(uint*)(_rings + p.SqOff.RingEntries);
        uint* array = (uint*)(_rings + p.SqOff.Array);
        for (uint i = 0; i < _sqEntries; i++)
        {
            array[i] = i; // entries are filled in ring order, so slot i always names SQE i
        }
        _cqHead = (uint*)(_cqRing + p.CqOff.Head);
        _cqTail = (uint*)(_cqRing + p.CqOff.Tail);
        _cqMask = *(uint*)(_cqRing + p.CqOff.RingMask);
        _cqes = (IoUring.Cqe*)(_cqRing + p.CqOff.Cqes);
        _sqLocalTail = _submittedTail = *_sqTail;
    }

    public int Fd { get; }
    public uint Features { get; }

    /// <summary>Entries filled but not yet handed to the kernel.</summary>
    public uint Pending => _sqLocalTail - _submittedTail;

    /// <summary>Creates a ring; on failure returns null and the errno of the call that failed.</summary>
    public static IoUringRing? TryCreate(uint entries, uint cqEntries, uint flags, out int errno)
    {
        IoUring.Params p = default;
        p.Flags = flags | IoUring.SetupCqSize;
        p.CqEntries = cqEntries;
        int fd = IoUring.Setup(entries, &p);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        try
        {
            errno = 0;
            return new IoUringRing(fd, p);
        }
        catch (InvalidOperationException)
        {
            errno = Marshal.GetLastPInvokeError();
            Libc.Close(fd);
            return null;
        }
    }

    private static byte* Map(nuint size, int fd, long offset)
    {
        void* address = Libc.Mmap(null, size, Libc.ProtRead | Libc.ProtWrite, Libc.MapShared | Libc.MapPopulate, fd, offset);
        if (address == Libc.MapFailed)
        {
            throw new InvalidOperationException("mmap of the io_uring rings failed");
        }
        return (byte*)address;
    }

    /// <summary>The next free submission entry, cleared; null when the queue is full (submit first).</summary>
    public IoUring.Sqe* TryGetSqe()
    {
        if (_sqLocalTail - Volatile.Read(ref *_sqHead) >= _sqEntries)
        {
            return null;
        }
        IoUring.Sqe* sqe = &_sqes[_sqLocalTail & _sqMask];
        *sqe = default;
        _sqLocalTail++;
        return sqe;
    }

    /// <summary>
    /// Hands the filled entries to the kernel and, with <paramref name="wait"/>, waits for at least one
    /// completion or the timeout. Returns the negative errno on failure (EINTR, ETIME: nothing to do).
    /// </summary>
    public int SubmitAndWait(bool wait, IoUring.GetEventsArg* waitArg)
    {
        Volatile.Write(ref *_sqTail, _sqLocalTail);
        uint toSubmit = _sqLocalTail - _submittedTail;
        uint flags = wait ? IoUring.EnterGetEvents | IoUring.EnterExtArg : IoUring.EnterGetEvents;
        int result = IoUring.Enter(Fd, toSubmit, wait ? 1u : 0u, flags, wait ? waitArg : null,
            wait ? (nuint)sizeof(IoUring.GetEventsArg) : 0);
        if (result < 0)
        {
            return -Marshal.GetLastPInvokeError();
        }
        _submittedTail += (uint)result;
        return result;
    }

    /// <summary>Takes the next completion, if there is one.</summary>
    public bool TryTakeCqe(out IoUring.Cqe cqe)
    {
        uint head = *_cqHead;
        if (head == Volatile.Read(ref *_cqTail))
        {
            cqe = default;
            return false;
        }
        cqe = _cqes[head & _cqMask];
        Volatile.Write(ref *_cqHead, head + 1);
        return true;
    }

    public void Dispose()
    {
        Libc.Munmap(_sqes, _sqesSize);
        if (_cqRing != _rings)
        {
            Libc.Munmap(_cqRing, _cqRingSize);
        }
        Libc.Munmap(_rings, _ringsSize);
        Libc.Close(Fd);
    }
}
