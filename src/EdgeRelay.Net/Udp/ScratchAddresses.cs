using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;

namespace EdgeRelay.Net.Udp;

/// <summary>One loop's reusable sockaddr buffers, one per family, so that sending allocates nothing.</summary>
internal sealed class ScratchAddresses
{
    public SocketAddress IPv4 { get; } = SocketAddressExtensions.CreateFor(AddressFamily.InterNetwork);
    public SocketAddress IPv6 { get; } = SocketAddressExtensions.CreateFor(AddressFamily.InterNetworkV6);

    public SocketAddress For(Socket socket) => socket.AddressFamily == AddressFamily.InterNetwork ? IPv4 : IPv6;

    /// <summary>Sends one datagram to <paramref name="destination"/>, through this loop's sockaddr of the socket's family.</summary>
    public void SendTo(Socket socket, ReadOnlySpan<byte> data, in TransportAddress destination)
    {
        SocketAddress address = For(socket);
        address.SetTransportAddress(destination);
        socket.SendTo(data, SocketFlags.None, address);
    }
}
