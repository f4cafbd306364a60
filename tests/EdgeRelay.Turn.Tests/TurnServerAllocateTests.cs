using System.Buffers.Binary;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>RFC 8656 §7.2: receiving an Allocate request.</summary>
public sealed class TurnServerAllocateTests
{
    [Fact]
    public void Allocate_success_carries_the_advertised_relayed_address_lifetime_600_and_the_mapped_address()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayPortMin: 50000, relayPortMax: 50999));
        TurnTestClient client = host.Client();

        StunResponse response = client.Allocate();

        Assert.True(response.IsSuccess, response.Describe());
        Assert.Equal(StunMethod.Allocate, response.Method);
        TransportAddress relayed = response.GetXorAddress(StunAttributeType.XorRelayedAddress);
        Assert.Equal(TurnTestHost.AdvertisedRelayAddress, relayed.ToIPAddress());
        Assert.InRange(relayed.Port, 50000, 50999);
        Assert.Equal(600u, response.GetUInt32(StunAttributeType.Lifetime));
        Assert.Equal(client.FiveTuple.Client, response.GetXorAddress(StunAttributeType.XorMappedAddress));

        // The socket is bound on the relay address (not the advertised one), on the same port.
        FakeRelayEndpoint endpoint = Assert.Single(host.Binder.Endpoints);
        Assert.Equal(TransportAddress.FromIPAddress(TurnTestHost.RelayBindAddress, relayed.Port), endpoint.Address);
        Assert.False(endpoint.IsDisposed);
        Allocation allocation = client.Allocation!;
        Assert.Same(allocation, endpoint.Allocation);
        Assert.Equal(relayed, allocation.RelayedAddress);
        Assert.Equal(1, host.Server.AllocationCount);
        Assert.Equal(1, host.Server.AllocationCountOf(TransportProtocol.Udp));
        Assert.Equal(0, host.Server.AllocationCountOf(TransportProtocol.Tcp));
        Assert.Equal(1, host.Server.RelayPortsInUse);
    }

    [Theory]
    [InlineData(60u, 600u)]
    [InlineData(0u, 600u)]
    [InlineData(599u, 600u)]
    [InlineData(601u, 601u)]
    [InlineData(1200u, 1200u)]
    [InlineData(3600u, 3600u)]
    [InlineData(3601u, 3600u)]
    [InlineData(uint.MaxValue, 3600u)]
    public void Requested_lifetime_is_capped_at_3600_and_raised_to_600(uint requested, uint granted)
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();

        StunResponse response = client.Allocate(r => r.Lifetime(requested));

        Assert.True(response.IsSuccess, response.Describe());
        Assert.Equal(granted, response.GetUInt32(StunAttributeType.Lifetime));
    }

    [Fact]
    public void Second_allocate_on_the_same_five_tuple_is_rejected_with_437()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Assert.True(client.Allocate().IsSuccess);

        StunResponse second = client.Allocate();

        Assert.Equal(StunErrorCode.AllocationMismatch, second.ErrorCode);
        Assert.Equal(1, host.Server.AllocationCount);
        Assert.Single(host.Binder.Endpoints);
    }

    [Fact]
    public void Retransmitted_allocate_gets_the_byte_identical_response_and_no_second_allocation()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        StunResponse challenge = client.SendOnce(TurnTestClient.AllocateRequest());
        client.LearnChallenge(challenge);
        byte[] request = TurnTestClient.AllocateRequest().Encode(client.CurrentAuth());

        StunResponse first = client.SendRaw(request)!;
        host.Time.AdvanceMilliseconds(500);
        StunResponse retransmission = client.SendRaw(request)!;

        Assert.True(first.IsSuccess, first.Describe());
        Assert.Equal(first.Bytes, retransmission.Bytes);
        Assert.Equal(1, host.Server.AllocationCount);
        Assert.Single(host.Binder.Endpoints);
    }

    [Fact]
    public void With_anonymous_relaying_a_retransmitted_allocate_without_credentials_gets_the_cached_response()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(allowAnonymous: true));
        TurnTestClient client = host.Client(username: null);
        byte[] request = TurnTestClient.AllocateRequest().Encode();

        StunResponse first = client.SendRaw(request)!;
        StunResponse retransmission = client.SendRaw(request)!;

        Assert.True(first.IsSuccess, first.Describe());
        Assert.Equal(first.Bytes, retransmission.Bytes);
        Assert.Equal(1, host.Server.AllocationCount);
    }

    /// <summary>Found by the turn fuzz target (tests/EdgeRelay.Fuzz/regressions/turn): the cached Allocate success answered a Refresh.</summary>
    [Fact]
    public void A_request_of_another_method_reusing_an_allocate_transaction_id_is_handled_not_answered_from_the_cache()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.LearnChallenge(client.SendOnce(TurnTestClient.AllocateRequest()));
        StunRequest allocate = TurnTestClient.AllocateRequest();
        Assert.True(client.SendOnce(allocate).IsSuccess);

        StunResponse refresh = client.SendOnce(new StunRequest(StunMethod.Refresh).Lifetime(0).WithTransactionId(allocate.TransactionId));

        Assert.Equal(StunMethod.Refresh, refresh.Method);
        Assert.True(refresh.IsSuccess, refresh.Describe());
        Assert.Equal(0, host.Server.AllocationCount);
    }

    /// <summary>Found by the turn fuzz target: the cached Allocate success answered the same Allocate sent without credentials.</summary>
    [Fact]
    public void A_request_without_credentials_reusing_an_allocate_transaction_id_is_challenged_not_answered_from_the_cache()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.LearnChallenge(client.SendOnce(TurnTestClient.AllocateRequest()));
        StunRequest allocate = TurnTestClient.AllocateRequest();
        Assert.True(client.SendOnce(allocate).IsSuccess);

        StunResponse unauthenticated = client.SendRaw(TurnTestClient.AllocateRequest().WithTransactionId(allocate.TransactionId).Encode())!;

        Assert.Equal(StunErrorCode.Unauthenticated, unauthenticated.ErrorCode);
    }

    [Fact]
    public void Allocate_without_requested_transport_is_rejected_with_400()
    {
        var host = new TurnTestHost();
        StunResponse response = host.Client().Send(new StunRequest(StunMethod.Allocate));

        Assert.Equal(StunErrorCode.BadRequest, response.ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Allocate_for_tcp_is_rejected_with_442()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().Send(new StunRequest(StunMethod.Allocate).RequestedTransport(StunRequest.ProtocolTcp));

        Assert.Equal(StunErrorCode.UnsupportedTransportProtocol, response.ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Allocate_for_an_ipv6_relayed_address_is_rejected_with_440()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().Allocate(r => r.RequestedAddressFamily(StunAddressFamily.IPv6));

        Assert.Equal(StunErrorCode.AddressFamilyNotSupported, response.ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Allocate_for_an_ipv4_relayed_address_by_request_succeeds()
    {
        var host = new TurnTestHost();

        Assert.True(host.Client().Allocate(r => r.RequestedAddressFamily(StunAddressFamily.IPv4)).IsSuccess);
    }

    [Fact]
    public void Additional_ipv6_family_gets_an_ipv4_allocation_with_address_error_code_440()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().Allocate(r => r.AdditionalAddressFamily(StunAddressFamily.IPv6));

        Assert.True(response.IsSuccess, response.Describe());
        Assert.True(response.GetXorAddress(StunAttributeType.XorRelayedAddress).IsIPv4);
        // ADDRESS-ERROR-CODE (RFC 8656 §18.12): family, reserved, then class and number as in ERROR-CODE.
        byte[] addressError = response.Get(StunAttributeType.AddressErrorCode)!;
        Assert.Equal((byte)StunAddressFamily.IPv6, addressError[0]);
        Assert.Equal(4, addressError[2] & 0x07);
        Assert.Equal(40, addressError[3]);
    }

    [Fact]
    public void Additional_ipv4_family_is_rejected_with_400()
    {
        var host = new TurnTestHost();

        Assert.Equal(StunErrorCode.BadRequest, host.Client().Allocate(r => r.AdditionalAddressFamily(StunAddressFamily.IPv4)).ErrorCode);
    }

    [Fact]
    public void Requested_and_additional_address_family_together_are_rejected_with_400()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().Allocate(r => r.RequestedAddressFamily(StunAddressFamily.IPv4).AdditionalAddressFamily(StunAddressFamily.IPv6));

        Assert.Equal(StunErrorCode.BadRequest, response.ErrorCode);
    }

    [Fact]
    public void Reservation_token_with_even_port_is_rejected_with_400()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().Allocate(r => r.ReservationToken(new byte[8]).EvenPort(false));

        Assert.Equal(StunErrorCode.BadRequest, response.ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Even_port_gives_an_even_relayed_port()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayPortMin: 50001, relayPortMax: 50100));
        for (int i = 0; i < 20; i++)
        {
            StunResponse response = host.Client(clientPort: 41000 + i).Allocate(r => r.EvenPort(false));

            Assert.True(response.IsSuccess, response.Describe());
            Assert.Equal(0, response.GetXorAddress(StunAttributeType.XorRelayedAddress).Port % 2);
            Assert.False(response.Has(StunAttributeType.ReservationToken));
        }
    }

    [Fact]
    public void Even_port_with_r_bit_reserves_the_next_port_for_another_five_tuple()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayPortMin: 50000, relayPortMax: 50099));
        TurnTestClient rtp = host.Client(clientPort: 40000);

        StunResponse first = rtp.Allocate(r => r.EvenPort(reserveNext: true));

        Assert.True(first.IsSuccess, first.Describe());
        int port = first.GetXorAddress(StunAttributeType.XorRelayedAddress).Port;
        Assert.Equal(0, port % 2);
        byte[] token = first.Get(StunAttributeType.ReservationToken)!;
        Assert.Equal(8, token.Length);
        Assert.Equal(2, host.Server.RelayPortsInUse);
        Assert.False(host.Binder.EndpointOn(port + 1).IsDisposed);

        TurnTestClient rtcp = host.Client(clientPort: 40001);
        StunResponse second = rtcp.Allocate(r => r.ReservationToken(token));

        Assert.True(second.IsSuccess, second.Describe());
        Assert.Equal(port + 1, second.GetXorAddress(StunAttributeType.XorRelayedAddress).Port);
        Assert.Same(rtcp.Allocation, host.Binder.EndpointOn(port + 1).Allocation);
        Assert.Equal(2, host.Binder.Endpoints.Count);
    }

    [Fact]
    public void Reservation_token_can_be_redeemed_once()
    {
        var host = new TurnTestHost();
        byte[] token = host.Client(clientPort: 40000).Allocate(r => r.EvenPort(true)).Get(StunAttributeType.ReservationToken)!;
        Assert.True(host.Client(clientPort: 40001).Allocate(r => r.ReservationToken(token)).IsSuccess);

        Assert.Equal(StunErrorCode.InsufficientCapacity, host.Client(clientPort: 40002).Allocate(r => r.ReservationToken(token)).ErrorCode);
    }

    [Fact]
    public void Unknown_reservation_token_is_rejected_with_508()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().Allocate(r => r.ReservationToken([1, 2, 3, 4, 5, 6, 7, 8]));

        Assert.Equal(StunErrorCode.InsufficientCapacity, response.ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Reservation_token_of_the_wrong_length_is_rejected_with_400()
    {
        var host = new TurnTestHost();

        Assert.Equal(StunErrorCode.BadRequest, host.Client().Allocate(r => r.ReservationToken([1, 2, 3, 4])).ErrorCode);
    }

    [Fact]
    public void Per_user_quota_is_answered_with_486()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(maxAllocationsPerUser: 2));
        Assert.True(host.Client("alice", clientPort: 40000).Allocate().IsSuccess);
        Assert.True(host.Client("alice", clientPort: 40001).Allocate().IsSuccess);

        StunResponse third = host.Client("alice", clientPort: 40002).Allocate();

        Assert.Equal(StunErrorCode.AllocationQuotaReached, third.ErrorCode);
        // Another user is not affected.
        Assert.True(host.Client("bob", clientPort: 40003).Allocate().IsSuccess);
        Assert.Equal(3, host.Server.AllocationCount);
    }

    [Fact]
    public void Per_user_quota_is_given_back_when_an_allocation_ends()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(maxAllocationsPerUser: 1));
        TurnTestClient first = host.Client("alice", clientPort: 40000);
        Assert.True(first.Allocate().IsSuccess);
        Assert.Equal(StunErrorCode.AllocationQuotaReached, host.Client("alice", clientPort: 40001).Allocate().ErrorCode);

        Assert.True(first.Refresh(0).IsSuccess);

        Assert.True(host.Client("alice", clientPort: 40002).Allocate().IsSuccess);
    }

    [Fact]
    public void Relay_wide_allocation_limit_is_answered_with_508()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(maxAllocations: 2));
        Assert.True(host.Client("alice", clientPort: 40000).Allocate().IsSuccess);
        Assert.True(host.Client("bob", clientPort: 40001).Allocate().IsSuccess);

        StunResponse third = host.Client("bob", clientPort: 40002).Allocate();

        Assert.Equal(StunErrorCode.InsufficientCapacity, third.ErrorCode);
        Assert.Equal(2, host.Server.AllocationCount);
    }

    [Fact]
    public void All_ports_busy_is_answered_with_508()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayPortMin: 50000, relayPortMax: 50009));
        for (int port = 50000; port <= 50009; port++)
        {
            host.Binder.BusyPorts.Add(port);
        }

        StunResponse response = host.Client().Allocate();

        Assert.Equal(StunErrorCode.InsufficientCapacity, response.ErrorCode);
        Assert.NotEmpty(host.Binder.RefusedPorts);
        Assert.Equal(0, host.Server.AllocationCount);
        // Ports some other program held go back to the pool.
        Assert.Equal(0, host.Server.RelayPortsInUse);
    }

    [Fact]
    public void Busy_port_is_skipped_and_tried_again_later()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayPortMin: 50000, relayPortMax: 50001));
        host.Binder.BusyPorts.Add(50000);

        StunResponse first = host.Client(clientPort: 40000).Allocate();
        Assert.Equal(50001, first.GetXorAddress(StunAttributeType.XorRelayedAddress).Port);
        Assert.Equal(StunErrorCode.InsufficientCapacity, host.Client(clientPort: 40001).Allocate().ErrorCode);

        host.Binder.BusyPorts.Clear();
        StunResponse third = host.Client(clientPort: 40002).Allocate();

        Assert.Equal(50000, third.GetXorAddress(StunAttributeType.XorRelayedAddress).Port);
    }

    [Fact]
    public void Exhausted_two_port_range_is_answered_with_508()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayPortMin: 50000, relayPortMax: 50001));
        StunResponse first = host.Client(clientPort: 40000).Allocate();
        StunResponse second = host.Client(clientPort: 40001).Allocate();

        StunResponse third = host.Client(clientPort: 40002).Allocate();

        Assert.Equal(
            new[] { 50000, 50001 },
            new[] { (int)first.GetXorAddress(StunAttributeType.XorRelayedAddress).Port, second.GetXorAddress(StunAttributeType.XorRelayedAddress).Port }.Order());
        Assert.Equal(StunErrorCode.InsufficientCapacity, third.ErrorCode);
        Assert.Equal(2, host.Binder.Endpoints.Count);
    }

    [Fact]
    public void Relay_port_is_released_when_the_allocation_is_deleted()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayPortMin: 50000, relayPortMax: 50000));
        TurnTestClient first = host.Client(clientPort: 40000);
        Assert.True(first.Allocate().IsSuccess);
        Assert.Equal(StunErrorCode.InsufficientCapacity, host.Client(clientPort: 40001).Allocate().ErrorCode);

        Assert.True(first.Refresh(0).IsSuccess);

        FakeRelayEndpoint endpoint = Assert.Single(host.Binder.Endpoints);
        Assert.True(endpoint.IsDisposed);
        Assert.Equal(1, endpoint.DisposeCount);
        Assert.Null(endpoint.Allocation);
        Assert.Equal(0, host.Server.RelayPortsInUse);
        Assert.True(host.Client(clientPort: 40002).Allocate().IsSuccess);
    }

    [Fact]
    public void Relay_port_is_released_when_the_allocation_expires()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(relayPortMin: 50000, relayPortMax: 50000));
        Assert.True(host.Client(clientPort: 40000).Allocate().IsSuccess);

        host.Time.AdvanceSeconds(600);
        host.Server.Tick();

        Assert.True(Assert.Single(host.Binder.Endpoints).IsDisposed);
        Assert.Equal(0, host.Server.RelayPortsInUse);
        Assert.Equal(0, host.Server.AllocationCount);
        Assert.True(host.Client(clientPort: 40001).Allocate().IsSuccess);
    }

    [Fact]
    public void Relay_port_is_released_when_the_connection_closes()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client(protocol: TransportProtocol.Tcp);
        Assert.True(client.Allocate().IsSuccess);

        Assert.True(host.Server.DeleteAllocation(client.FiveTuple, "connection closed"));

        Assert.True(Assert.Single(host.Binder.Endpoints).IsDisposed);
        Assert.Equal(0, host.Server.RelayPortsInUse);
        Assert.False(host.Server.DeleteAllocation(client.FiveTuple, "again"));
    }

    [Fact]
    public void Dont_fragment_is_passed_to_the_relay_socket()
    {
        var host = new TurnTestHost();
        Assert.True(host.Client(clientPort: 40000).Allocate(r => r.DontFragment()).IsSuccess);
        Assert.True(host.Client(clientPort: 40001).Allocate().IsSuccess);

        Assert.True(host.Binder.Endpoints[0].DontFragment);
        Assert.False(host.Binder.Endpoints[1].DontFragment);
    }

    [Fact]
    public void Allocations_on_other_five_tuples_are_independent()
    {
        var host = new TurnTestHost();
        TurnTestClient udp = host.Client(clientPort: 40000);
        TurnTestClient tcp = host.Client(clientPort: 40000, protocol: TransportProtocol.Tcp);

        StunResponse first = udp.Allocate();
        StunResponse second = tcp.Allocate();

        Assert.True(first.IsSuccess && second.IsSuccess);
        Assert.NotEqual(first.GetXorAddress(StunAttributeType.XorRelayedAddress), second.GetXorAddress(StunAttributeType.XorRelayedAddress));
        Assert.NotSame(udp.Allocation, tcp.Allocation);
    }

    [Fact]
    public void Allocate_success_carries_the_reservation_token_as_eight_bytes_that_are_not_zero()
    {
        var host = new TurnTestHost();

        byte[] token = host.Client().Allocate(r => r.EvenPort(true)).Get(StunAttributeType.ReservationToken)!;

        Assert.NotEqual(0ul, BinaryPrimitives.ReadUInt64BigEndian(token));
    }
}
