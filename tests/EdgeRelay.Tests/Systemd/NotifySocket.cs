using System.Net.Sockets;
using System.Text;

namespace EdgeRelay.Tests.Systemd;

/// <summary>
/// The service manager's end of sd_notify(3): a Unix datagram socket in a temporary directory, whose path
/// goes to the relay as $NOTIFY_SOCKET. Each datagram is one message of newline-separated assignments.
/// </summary>
public sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly List<string> _assignments = [];

    public NotifySocket(string directory)
    {
        Path = System.IO.Path.Combine(directory, "notify");
        _socket.Bind(new UnixDomainSocketEndPoint(Path));
        _socket.ReceiveTimeout = 200;
    }

    public string Path { get; }

    public IReadOnlyList<string> Assignments => _assignments;

    /// <summary>Reads messages until <paramref name="enough"/> holds for what has arrived, or the time is up.</summary>
    public bool WaitFor(Func<IReadOnlyList<string>, bool> enough, TimeSpan timeout)
    {
        var buffer = new byte[4096];
        DateTime deadline = DateTime.UtcNow + timeout;
        while (!enough(_assignments))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            try
            {
                int length = _socket.Receive(buffer);
                _assignments.AddRange(Encoding.UTF8.GetString(buffer, 0, length).Split('\n', StringSplitOptions.RemoveEmptyEntries));
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
            }
        }
        return true;
    }

    public int Count(string assignment) => _assignments.Count(a => a == assignment);

    public override string ToString() => string.Join(" | ", _assignments);

    public void Dispose() => _socket.Dispose();
}
