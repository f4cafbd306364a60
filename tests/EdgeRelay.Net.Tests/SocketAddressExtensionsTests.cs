using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;

namespace EdgeRelay.Net.Tests;

public sealed class SocketAddressExtensionsTests
{
    [Theory]
    [InlineData("192.0.2.1", 32853)]
    [InlineData("127.0.0.1", 1)]
    [InlineData("255.255.255.255", 65535)]
    public void IPv4_socket_addresses_convert_both_ways(string address, int port)
    {
        var endpoint = new IPEndPoint(IPAddress.Parse(address), port);
        TransportAddress converted = endpoint.Serialize().ToTransportAddress();
        Assert.Equal(TransportAddress.FromIPEndPoint(endpoint), converted);

        SocketAddress target = SocketAddressExtensions.CreateFor(AddressFamily.InterNetwork);
        target.SetTransportAddress(converted);
        Assert.Equal(endpoint, new IPEndPoint(IPAddress.Any, 0).Create(target));
    }

    [Theory]
    [InlineData("2001:db8:1234:5678:11:2233:4455:6677", 32853)]
    [InlineData("::1", 3478)]
    public void IPv6_socket_addresses_convert_both_ways(string address, int port)
    {
        var endpoint = new IPEndPoint(IPAddress.Parse(address), port);
        TransportAddress converted = endpoint.Serialize().ToTransportAddress();
        Assert.Equal(TransportAddress.FromIPEndPoint(endpoint), converted);

        SocketAddress target = SocketAddressExtensions.CreateFor(AddressFamily.InterNetworkV6);
        target.SetTransportAddress(converted);
        Assert.Equal(endpoint, new IPEndPoint(IPAddress.IPv6Any, 0).Create(target));
    }

    [Fact]
    public void An_IPv4_mapped_client_of_a_dual_stack_socket_is_an_IPv4_client()
    {
        var mapped = new IPEndPoint(IPAddress.Parse("::ffff:198.51.100.7"), 5000);
        TransportAddress converted = mapped.Serialize().ToTransportAddress();
        Assert.True(converted.IsIPv4);
        Assert.Equal("198.51.100.7:5000", converted.ToString());

        SocketAddress target = SocketAddressExtensions.CreateFor(AddressFamily.InterNetworkV6);
        target.SetTransportAddress(converted);
        Assert.Equal(mapped, new IPEndPoint(IPAddress.IPv6Any, 0).Create(target));
    }
}
