using System.Net;
using System.Net.Sockets;

namespace EdgeRelay.Load;

/// <summary>The peer: sends every datagram back where it came from (the allocation's relayed address).</summary>
internal sealed class EchoPeer : IDisposable
{
    private readonly Socket _socket;
    private readonly Thread _thread;
    private long _echoed;

    public EchoPeer(IPAddress address)
    {
        _socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 8 << 20, SendBufferSize = 8 << 20 };
        _socket.Bind(new IPEndPoint(address, 0));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _thread = new Thread(Run) { IsBackground = true, Name = "echo peer" };
        _thread.Start();
    }

    public IPEndPoint EndPoint { get; }
    public long Echoed => Interlocked.Read(ref _echoed);

    private void Run()
    {
        var buffer = new byte[65536];
        SocketAddress from = EndPoint.Serialize();
        while (true)
        {
            try
            {
                int n = _socket.ReceiveFrom(buffer, SocketFlags.None, from);
                _socket.SendTo(buffer.AsSpan(0, n), SocketFlags.None, from);
                Interlocked.Increment(ref _echoed);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    public void Dispose() => _socket.Dispose();
}
