namespace EdgeRelay.Net;

/// <summary>How UDP sockets are read and written.</summary>
public enum SocketBackend
{
    /// <summary>The batched engine on Linux, the portable one elsewhere.</summary>
    Auto,

    /// <summary>One epoll loop per core with recvmmsg/sendmmsg (Linux).</summary>
    Batched,

    /// <summary>.NET's asynchronous sockets (SocketAddress overloads), one receive loop per socket: works everywhere.</summary>
    Portable,
}
