using System.Net;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>IPv6 relayed addresses and dual allocations (RFC 8656 §7.2 steps 6-9).</summary>
public sealed class TurnServerDualAllocationTests
{
    private static readonly IPAddress RelayIPv6 = IPAddress.Parse("2001:db8::7");

    private static List<TransportAddress> RelayedAddresses(StunResponse response)
    {
        var addresses = new List<TransportAddress>();
        foreach (StunAttribute attribute in response.Reader)
        {
            if (attribute.Type == (ushort)StunAttributeType.XorRelayedAddress
                && StunAddressCodec.TryDecodeXor(attribute.Value, response.Reader.TransactionIdBytes, out TransportAddress address))
            {
                addresses.Add(address);
            }
        }
        return addresses;
    }

    [Fact]
    public void Requested_address_family_IPv6_gets_an_IPv6_relayed_address_when_the_relay_has_one()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayAddressIPv6: RelayIPv6));
        StunResponse response = host.Client().Allocate(r => r.RequestedAddressFamily(StunAddressFamily.IPv6));
        Assert.True(response.IsSuccess, response.ToString());
        TransportAddress relayed = Assert.Single(RelayedAddresses(response));
        Assert.True(relayed.IsIPv6);
        Assert.Equal(RelayIPv6, relayed.ToIPAddress());
    }

    [Fact]
    public void Without_IPv4_relaying_an_Allocate_without_a_family_is_440()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayAddressIPv6: RelayIPv6, relayIPv4: false));
        Assert.Equal(StunErrorCode.AddressFamilyNotSupported, host.Client().Allocate().ErrorCode);
    }

    [Fact]
    public void A_dual_allocation_gets_two_relayed_addresses_IPv4_first_and_relays_to_both_families()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayAddressIPv6: RelayIPv6,
            peerPolicy: new Turn.Policy.PeerAddressPolicy(allow: [IPNetwork.Parse("2001:db8::/32")])));
        TurnTestClient client = host.Client();
        StunResponse response = client.Allocate(r => r.AdditionalAddressFamily(StunAddressFamily.IPv6));
        Assert.True(response.IsSuccess, response.ToString());
        List<TransportAddress> relayed = RelayedAddresses(response);
        Assert.Equal(2, relayed.Count);
        Assert.True(relayed[0].IsIPv4);
        Assert.True(relayed[1].IsIPv6);
        Assert.False(response.Has(StunAttributeType.AddressErrorCode));

        Allocation allocation = client.Allocation!;
        Assert.NotNull(allocation.AdditionalRelay);
        TransportAddress v4Peer = TurnTestHost.Address("8.8.8.8", 5000);
        TransportAddress v6Peer = TurnTestHost.Address("2001:db8::9", 5000);
        Assert.True(client.CreatePermission(v4Peer, v6Peer).IsSuccess);

        TurnAction toV6 = client.Handle(TurnTestClient.SendIndication(v6Peer, [6]), out _);
        Assert.Equal(TurnActionKind.SendToPeer, toV6.Kind);
        Assert.Same(allocation.AdditionalRelay!.Endpoint, toV6.Relay);
        TurnAction toV4 = client.Handle(TurnTestClient.SendIndication(v4Peer, [4]), out _);
        Assert.Same(allocation.PrimaryRelay.Endpoint, toV4.Relay);

        // Deleting it closes both sockets and frees both ports.
        Assert.True(client.Refresh(0).IsSuccess);
        Assert.Equal(0, host.Server.RelayPortsInUse);
        Assert.All(host.Binder.Endpoints, e => Assert.True(e.IsDisposed));
    }

    [Fact]
    public void The_draft_numbering_of_coturns_clients_is_answered_in_kind()
    {
        var host = new TurnTestHost();
        StunResponse response = host.Client().Allocate(r => r.Attribute((ushort)StunAttributeType.AdditionalAddressFamilyDraft, [2, 0, 0, 0]));
        Assert.True(response.IsSuccess, response.ToString());
        Assert.True(response.Has(StunAttributeType.AddressErrorCodeDraft));
        Assert.False(response.Has(StunAttributeType.AddressErrorCode));
    }
}
