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

public static class SocketBackendNames
{
    /// <summary>The name of the backend as <c>engine.backend</c> spells it.</summary>
    public static string ToConfigName(this SocketBackend backend) => backend switch
    {
        SocketBackend.IoUring => "io_uring",
        SocketBackend.RecvMmsg => "recvmmsg",
        SocketBackend.Portable => "portable",
        _ => "auto",
    };
}
