using System.Net;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Policy;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests.Policy;

/// <summary>Which peers the relay may reach (RFC 8656 §21.2.3; DESIGN.md "peers").</summary>
public sealed class PeerAddressPolicyTests
{
    private static PeerDecision Evaluate(PeerAddressPolicy policy, string ip, int port = 5000) => policy.Evaluate(IPAddress.Parse(ip), port);

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.255.254")]
    [InlineData("0.0.0.0")]
    [InlineData("0.1.2.3")]
    [InlineData("10.0.0.1")]
    [InlineData("10.255.255.255")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.255")]
    [InlineData("192.168.1.1")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("224.0.0.1")]
    [InlineData("239.255.255.250")]
    [InlineData("255.255.255.255")]
    [InlineData("240.0.0.1")]
    [InlineData("198.18.0.1")]
    [InlineData("198.19.255.255")]
    [InlineData("192.0.0.8")]
    [InlineData("192.0.2.1")]
    [InlineData("198.51.100.1")]
    [InlineData("203.0.113.5")]
    public void Default_policy_refuses_ipv4_peers_that_are_not_globally_reachable(string ip)
    {
        Assert.False(Evaluate(PeerAddressPolicy.Default, ip).IsAllowed());
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("10.0.0.1")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("192.168.1.1")]
    [InlineData("172.16.0.1")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("198.18.0.1")]
    [InlineData("203.0.113.5")]
    public void Server_refuses_a_permission_for_a_non_global_ipv4_peer_with_403(string ip)
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail();

        StunResponse response = client.CreatePermission(TurnTestHost.Address(ip, 5000));

        Assert.Equal(StunErrorCode.Forbidden, response.ErrorCode);
        Assert.Equal(0, allocation.PermissionCount);
        Assert.Equal(1, Enum.GetValues<PeerDecision>().Where(d => !d.IsAllowed()).Sum(host.Server.Counters.GetPeerRefusals));
    }

    [Theory]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("fe80::1")]
    [InlineData("febf::1")]
    [InlineData("fc00::1")]
    [InlineData("fd12:3456::1")]
    [InlineData("ff02::1")]
    [InlineData("ff0e::1")]
    [InlineData("2001:db8::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("::ffff:0.0.0.0")]
    [InlineData("::10.0.0.1")]
    [InlineData("::8.8.8.8")]
    [InlineData("64:ff9b::a00:1")]
    [InlineData("64:ff9b::7f00:1")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    [InlineData("64:ff9b:1::1")]
    [InlineData("2002:0a00:0001::")]
    [InlineData("2002:7f00:0001::1")]
    [InlineData("2002:c0a8:0101::1")]
    // Teredo: server 65.54.227.120, client 10.0.0.1 (stored inverted: f5ff:fffe).
    [InlineData("2001:0:4136:e378:8000:63bf:f5ff:fffe")]
    // Teredo: global server, client 192.168.1.1 (inverted 3f57:fefe).
    [InlineData("2001:0:4136:e378:8000:63bf:3f57:fefe")]
    // Outside 2000::/3, global unicast: not allocated, so not a peer (SIIT ::ffff:0:a.b.c.d, 4000::/3).
    [InlineData("::ffff:0:a00:1")]
    [InlineData("4000::1")]
    [InlineData("e000::1")]
    public void Default_policy_refuses_every_ipv6_spelling_of_a_non_global_address(string ip)
    {
        Assert.False(Evaluate(PeerAddressPolicy.Default, ip).IsAllowed());
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("100.63.255.255")]
    [InlineData("100.128.0.1")]
    [InlineData("172.32.0.1")]
    [InlineData("198.20.0.1")]
    [InlineData("2606:4700::1111")]
    [InlineData("2001:4860:4860::8888")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    public void Default_policy_allows_globally_reachable_peers(string ip)
    {
        Assert.Equal(PeerDecision.Allowed, Evaluate(PeerAddressPolicy.Default, ip));
    }

    [Fact]
    public void Server_installs_a_permission_for_a_global_peer()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail();

        Assert.True(client.CreatePermission(TurnTestHost.Address("8.8.8.8", 5000)).IsSuccess);
        Assert.Equal(1, allocation.PermissionCount);
    }

    [Fact]
    public void Default_policy_gives_the_reason_of_a_refusal()
    {
        Assert.Equal(PeerDecision.RefusedLoopback, Evaluate(PeerAddressPolicy.Default, "127.0.0.1"));
        Assert.Equal(PeerDecision.RefusedLoopback, Evaluate(PeerAddressPolicy.Default, "::ffff:127.0.0.1"));
        Assert.Equal(PeerDecision.RefusedUnspecified, Evaluate(PeerAddressPolicy.Default, "0.0.0.0"));
        Assert.Equal(PeerDecision.RefusedUnspecified, Evaluate(PeerAddressPolicy.Default, "::"));
        Assert.Equal(PeerDecision.RefusedNotGlobal, Evaluate(PeerAddressPolicy.Default, "10.0.0.1"));
    }

    [Fact]
    public void Allow_loopback_opens_127_0_0_1_but_not_the_servers_own_service_ports()
    {
        var policy = new PeerAddressPolicy(allowLoopback: true, ownServicePorts: [3478, 5349, 8080]);

        Assert.True(Evaluate(policy, "127.0.0.1", 5000).IsAllowed());
        Assert.True(Evaluate(policy, "::1", 5000).IsAllowed());
        Assert.Equal(PeerDecision.RefusedOwnService, Evaluate(policy, "127.0.0.1", 3478));
        Assert.Equal(PeerDecision.RefusedOwnService, Evaluate(policy, "127.0.0.2", 5349));
        Assert.Equal(PeerDecision.RefusedOwnService, Evaluate(policy, "::1", 8080));
        Assert.Equal(PeerDecision.RefusedOwnService, Evaluate(policy, "::ffff:127.0.0.1", 3478));
        // Loopback opens loopback, nothing else.
        Assert.False(Evaluate(policy, "10.0.0.1", 5000).IsAllowed());
        Assert.False(Evaluate(policy, "169.254.169.254", 80).IsAllowed());
    }

    [Fact]
    public void Loopback_is_refused_by_default_even_on_other_ports()
    {
        var policy = new PeerAddressPolicy(ownServicePorts: [3478]);

        Assert.Equal(PeerDecision.RefusedLoopback, Evaluate(policy, "127.0.0.1", 5000));
    }

    [Fact]
    public void Own_addresses_on_service_ports_are_refused_whatever_allow_says()
    {
        var policy = new PeerAddressPolicy(
            allow: [IPNetwork.Parse("10.0.0.0/8")],
            ownAddresses: [IPAddress.Parse("10.0.0.5")],
            ownServicePorts: [3478, 8080]);

        Assert.Equal(PeerDecision.RefusedOwnService, Evaluate(policy, "10.0.0.5", 8080));
        Assert.Equal(PeerDecision.RefusedOwnService, Evaluate(policy, "::ffff:10.0.0.5", 3478));
        Assert.True(Evaluate(policy, "10.0.0.5", 5000).IsAllowed());
    }

    [Fact]
    public void Allow_cidr_opens_10_20_0_0_16_but_not_10_21_0_1()
    {
        var policy = new PeerAddressPolicy(allow: [IPNetwork.Parse("10.20.0.0/16")]);

        Assert.Equal(PeerDecision.AllowedByConfiguration, Evaluate(policy, "10.20.0.1"));
        Assert.Equal(PeerDecision.AllowedByConfiguration, Evaluate(policy, "10.20.255.254"));
        Assert.Equal(PeerDecision.AllowedByConfiguration, Evaluate(policy, "::ffff:10.20.3.4"));
        Assert.False(Evaluate(policy, "10.21.0.1").IsAllowed());
        Assert.False(Evaluate(policy, "10.19.255.255").IsAllowed());
        Assert.False(Evaluate(policy, "192.168.1.1").IsAllowed());
    }

    [Fact]
    public void Server_with_an_allow_cidr_relays_into_it()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(peerPolicy: new PeerAddressPolicy(allow: [IPNetwork.Parse("10.20.0.0/16")])));
        TurnTestClient client = host.Client();
        client.AllocateOrFail();

        Assert.True(client.CreatePermission(TurnTestHost.Address("10.20.1.1", 5000)).IsSuccess);
        Assert.Equal(StunErrorCode.Forbidden, client.CreatePermission(TurnTestHost.Address("10.21.0.1", 5000)).ErrorCode);
    }

    [Fact]
    public void Deny_cidr_refuses_a_global_address_in_every_spelling()
    {
        var policy = new PeerAddressPolicy(deny: [IPNetwork.Parse("8.8.8.0/24")]);

        Assert.Equal(PeerDecision.RefusedDenied, Evaluate(policy, "8.8.8.8"));
        Assert.Equal(PeerDecision.RefusedDenied, Evaluate(policy, "::ffff:8.8.8.8"));
        Assert.Equal(PeerDecision.RefusedDenied, Evaluate(policy, "64:ff9b::808:808"));
        Assert.Equal(PeerDecision.RefusedDenied, Evaluate(policy, "2002:0808:0808::1"));
        Assert.Equal(PeerDecision.Allowed, Evaluate(policy, "8.8.4.4"));
    }

    [Fact]
    public void Deny_wins_over_allow()
    {
        var policy = new PeerAddressPolicy(allow: [IPNetwork.Parse("10.0.0.0/8")], deny: [IPNetwork.Parse("10.20.0.0/16")]);

        Assert.Equal(PeerDecision.RefusedDenied, Evaluate(policy, "10.20.0.1"));
        Assert.Equal(PeerDecision.AllowedByConfiguration, Evaluate(policy, "10.21.0.1"));
    }

    [Fact]
    public void Own_relay_address_in_the_relay_port_range_is_allowed()
    {
        var policy = new PeerAddressPolicy(ownRelayAddresses: [IPAddress.Parse("203.0.113.7")], relayPortMin: 49152, relayPortMax: 65535);

        Assert.Equal(PeerDecision.AllowedOwnRelay, Evaluate(policy, "203.0.113.7", 49152));
        Assert.Equal(PeerDecision.AllowedOwnRelay, Evaluate(policy, "203.0.113.7", 65535));
        Assert.False(Evaluate(policy, "203.0.113.7", 49151).IsAllowed());
        Assert.False(Evaluate(policy, "203.0.113.7", 80).IsAllowed());
        Assert.False(Evaluate(policy, "203.0.113.8", 50000).IsAllowed());
    }

    [Fact]
    public void Two_clients_of_the_relay_can_reach_each_other_through_their_relayed_addresses()
    {
        var policy = new PeerAddressPolicy(ownRelayAddresses: [TurnTestHost.AdvertisedRelayAddress], relayPortMin: 49152, relayPortMax: 65535,
            ownServicePorts: [3478]);
        var host = new TurnTestHost(TurnTestHost.CreateOptions(peerPolicy: policy));
        TurnTestClient alice = host.Client("alice", clientPort: 40000);
        TurnTestClient bob = host.Client("bob", clientPort: 40001);
        Allocation bobs = bob.AllocateOrFail();
        alice.AllocateOrFail();

        Assert.True(alice.CreatePermission(bobs.RelayedAddress).IsSuccess);
        Assert.Equal(StunErrorCode.Forbidden, alice.CreatePermission(TransportAddress.FromIPAddress(TurnTestHost.AdvertisedRelayAddress, 3478)).ErrorCode);
    }

    [Fact]
    public void A_permission_for_the_relays_own_address_does_not_let_send_indications_reach_its_services()
    {
        var policy = new PeerAddressPolicy(ownRelayAddresses: [TurnTestHost.AdvertisedRelayAddress], relayPortMin: 49152, relayPortMax: 65535,
            ownServicePorts: [3478, 8080]);
        var host = new TurnTestHost(TurnTestHost.CreateOptions(peerPolicy: policy));
        TurnTestClient alice = host.Client("alice", clientPort: 40000);
        TurnTestClient bob = host.Client("bob", clientPort: 40001);
        Allocation bobs = bob.AllocateOrFail();
        alice.AllocateOrFail();
        Assert.True(alice.CreatePermission(bobs.RelayedAddress).IsSuccess);

        // The permission covers the whole address (RFC 8656 §9), but only relay ports are peers there.
        Assert.Equal(TurnActionKind.SendToPeer, alice.Handle(TurnTestClient.SendIndication(bobs.RelayedAddress, [1, 2, 3]), out _).Kind);
        foreach (int port in new[] { 3478, 8080, 22, 49151 })
        {
            TransportAddress service = TransportAddress.FromIPAddress(TurnTestHost.AdvertisedRelayAddress, port);
            Assert.Equal(TurnActionKind.None, alice.Handle(TurnTestClient.SendIndication(service, [1, 2, 3]), out _).Kind);
        }
        Assert.Equal(4, host.Server.Counters.GetPeerRefusals(PeerDecision.RefusedOwnService));
    }

    [Fact]
    public void With_loopback_allowed_send_indications_still_never_reach_the_relays_own_ports()
    {
        var policy = new PeerAddressPolicy(allowLoopback: true, ownServicePorts: [3478]);
        var host = new TurnTestHost(TurnTestHost.CreateOptions(peerPolicy: policy));
        TurnTestClient alice = host.Client("alice");
        alice.AllocateOrFail();
        Assert.True(alice.CreatePermission(TurnTestHost.Address("127.0.0.1", 5000)).IsSuccess);

        Assert.Equal(TurnActionKind.SendToPeer, alice.Handle(TurnTestClient.SendIndication(TurnTestHost.Address("127.0.0.1", 5000), [1]), out _).Kind);
        Assert.Equal(TurnActionKind.None, alice.Handle(TurnTestClient.SendIndication(TurnTestHost.Address("127.0.0.1", 3478), [1]), out _).Kind);
    }

    [Fact]
    public void Globally_reachable_check_reads_the_ipv4_inside_ipv6_spellings()
    {
        Assert.Equal(IPAddress.Parse("10.0.0.1"), PeerAddressPolicy.GetEmbeddedIPv4(IPAddress.Parse("64:ff9b::a00:1")));
        Assert.Equal(IPAddress.Parse("10.0.0.1"), PeerAddressPolicy.GetEmbeddedIPv4(IPAddress.Parse("2002:0a00:0001::")));
        Assert.Equal(IPAddress.Parse("10.0.0.1"), PeerAddressPolicy.GetEmbeddedIPv4(IPAddress.Parse("::10.0.0.1")));
        Assert.Equal(IPAddress.Parse("10.0.0.1"), PeerAddressPolicy.GetEmbeddedIPv4(IPAddress.Parse("2001:0:4136:e378:8000:63bf:f5ff:fffe")));
        Assert.Null(PeerAddressPolicy.GetEmbeddedIPv4(IPAddress.Parse("2606:4700::1111")));
        Assert.Null(PeerAddressPolicy.GetEmbeddedIPv4(IPAddress.Parse("8.8.8.8")));
    }
}
