namespace EdgeRelay.Net;

/// <summary>How UDP sockets are read and written.</summary>
public enum SocketBackend
{
    /// <summary>io_uring when the kernel allows it, else recvmmsg/sendmmsg, on Linux; the portable one elsewhere.</summary>
    Auto,

    /// <summary>One io_uring per core: multishot recvmsg into provided buffers, sends submitted in batches (Linux 6.0 or later).</summary>
    IoUring,

    /// <summary>One epoll loop per core with recvmmsg/sendmmsg (Linux).</summary>
    RecvMmsg,

    /// <summary>.NET's asynchronous sockets (SocketAddress overloads), one receive loop per socket: works everywhere.</summary>
    Portable,
}
