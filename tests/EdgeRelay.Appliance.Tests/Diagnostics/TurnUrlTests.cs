using EdgeRelay.Appliance.Diagnostics;

namespace EdgeRelay.Appliance.Tests.Diagnostics;

/// <summary>TURN URLs as RFC 7065 §3.1 writes them, and what an operator gets for one that is not.</summary>
public sealed class TurnUrlTests
{
    [Theory]
    [InlineData("turn:relay.example.com", "relay.example.com", 3478, ProbeTransport.Udp)]
    [InlineData("turn:relay.example.com:443?transport=tcp", "relay.example.com", 443, ProbeTransport.Tcp)]
    [InlineData("turn:192.0.2.7:3478?transport=udp", "192.0.2.7", 3478, ProbeTransport.Udp)]
    [InlineData("TURN:192.0.2.7?TRANSPORT=TCP", "192.0.2.7", 3478, ProbeTransport.Tcp)]
    [InlineData("turns:relay.example.com", "relay.example.com", 5349, ProbeTransport.Tls)]
    [InlineData("turns:relay.example.com:443?transport=tcp", "relay.example.com", 443, ProbeTransport.Tls)]
    [InlineData("turn:[2001:db8::1]", "2001:db8::1", 3478, ProbeTransport.Udp)]
    [InlineData("turns:[::1]:5350", "::1", 5350, ProbeTransport.Tls)]
    public void Valid_urls_give_host_port_and_transport(string text, string host, int port, ProbeTransport transport)
    {
        Assert.True(TurnUrl.TryParse(text, out TurnUrl? url, out string error), error);
        Assert.Equal(new TurnUrl(host, port, transport), url);
    }

    [Theory]
    [InlineData("turn:relay.example.com", "turn:relay.example.com:3478?transport=udp")]
    [InlineData("turns:[::1]", "turns:[::1]:5349?transport=tcp")]
    [InlineData("turn:10.0.0.1?transport=tcp", "turn:10.0.0.1:3478?transport=tcp")]
    public void The_canonical_spelling_writes_port_and_transport(string text, string canonical)
    {
        Assert.True(TurnUrl.TryParse(text, out TurnUrl? url, out _));
        Assert.Equal(canonical, url!.ToString());
    }

    [Theory]
    [InlineData("relay.example.com:3478", "is not a TURN URL")]
    [InlineData("stun:relay.example.com", "is not a TURN URL")]
    [InlineData("turn://relay.example.com", "has no \"//\"")]
    [InlineData("turns:relay.example.com?transport=udp", "DTLS")]
    [InlineData("turn:relay.example.com?transport=sctp", "transport must be udp or tcp")]
    [InlineData("turn:relay.example.com?foo=bar", "the only query")]
    [InlineData("turn:2001:db8::1", "between brackets")]
    [InlineData("turn:[relay.example.com]", "must be an IPv6 address")]
    [InlineData("turn:[::1]3478", "expected :PORT")]
    [InlineData("turn:relay.example.com:0", "from 1 to 65535")]
    [InlineData("turn:relay.example.com:70000", "from 1 to 65535")]
    [InlineData("turn:relay.example.com:-1", "from 1 to 65535")]
    [InlineData("turn:", "is not a host name")]
    [InlineData("turn:user@relay.example.com", "is not a host name")]
    public void Invalid_urls_are_refused_with_a_reason(string text, string reason)
    {
        Assert.False(TurnUrl.TryParse(text, out TurnUrl? url, out string error));
        Assert.Null(url);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }
}
