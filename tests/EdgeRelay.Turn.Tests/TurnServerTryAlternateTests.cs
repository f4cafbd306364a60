using EdgeRelay.Stun;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>
/// Draining and overflow: RFC 8656 §7.2 lets the server refuse an Allocate with 300 (Try Alternate) and an
/// ALTERNATE-SERVER (RFC 8489 §10, §14.15), so that new calls go to another relay while the calls here go on.
/// </summary>
public sealed class TurnServerTryAlternateTests
{
    private static readonly TransportAddress AlternateA = TurnTestHost.Address("198.51.100.21", 3478);
    private static readonly TransportAddress AlternateB = TurnTestHost.Address("198.51.100.22", 3479);
    private static readonly TransportAddress AlternateV6 = TransportAddress.FromIPAddress(System.Net.IPAddress.Parse("2001:db8::21"), 3478);

    private static TurnTestHost Host(int maxAllocations = 2000, params TransportAddress[] alternates) =>
        new(TurnTestHost.CreateOptions(maxAllocations: maxAllocations, alternateServers: alternates));

    private static TransportAddress AlternateServer(StunResponse response)
    {
        byte[] value = response.Get(StunAttributeType.AlternateServer) ?? throw new Xunit.Sdk.XunitException($"no ALTERNATE-SERVER: {response.Describe()}");
        Assert.True(StunAddressCodec.TryDecode(value, out TransportAddress address));
        return address;
    }

    [Fact]
    public void Draining_sends_new_allocations_to_the_alternates_in_turn_with_a_signed_300()
    {
        TurnTestHost host = Host(2000, AlternateV6, AlternateA, AlternateB);
        host.Server.Draining = true;

        TurnTestClient first = host.Client(clientPort: 40001);
        StunResponse answer = first.Allocate();
        StunResponse second = host.Client(clientPort: 40002).Allocate();
        StunResponse third = host.Client(clientPort: 40003).Allocate();

        Assert.Equal(StunErrorCode.TryAlternate, answer.ErrorCode);
        // An IPv4 client is sent to an IPv4 alternate only (RFC 8489 §14.15), each in turn.
        Assert.Equal([AlternateA, AlternateB, AlternateA], [AlternateServer(answer), AlternateServer(second), AlternateServer(third)]);
        // Authenticated: RFC 8489 §10 has a client ignore an ALTERNATE-SERVER without integrity.
        Assert.True(answer.VerifyMessageIntegrity(first.Key), answer.Describe());
        Assert.Equal(0, host.Server.AllocationCount);
        Assert.Empty(host.Binder.Endpoints);
        Assert.Equal(3, host.Server.Counters.AllocationsRedirected);
    }

    [Fact]
    public void An_unauthenticated_allocate_gets_the_401_challenge_not_the_alternate()
    {
        TurnTestHost host = Host(2000, AlternateA);
        host.Server.Draining = true;
        TurnTestClient client = host.Client();

        StunResponse challenge = client.SendOnce(TurnTestClient.AllocateRequest());

        Assert.Equal(StunErrorCode.Unauthenticated, challenge.ErrorCode);
        Assert.False(challenge.Has(StunAttributeType.AlternateServer));
    }

    [Fact]
    public void While_draining_an_existing_allocation_refreshes_binds_and_relays_and_resuming_allows_new_ones()
    {
        TurnTestHost host = Host(2000, AlternateA);
        TurnTestClient client = host.Client();
        Assert.True(client.Allocate().IsSuccess);
        TransportAddress peer = TurnTestHost.Address("8.8.8.8", 5000);

        host.Server.Draining = true;

        Assert.True(client.Refresh(600).IsSuccess);
        Assert.True(client.CreatePermission(peer).IsSuccess);
        Assert.True(client.ChannelBind(0x4000, peer).IsSuccess);
        Assert.Equal(StunErrorCode.TryAlternate, host.Client(clientPort: 40010).Allocate().ErrorCode);

        host.Server.Draining = false;

        Assert.True(host.Client(clientPort: 40011).Allocate().IsSuccess);
        Assert.Equal(2, host.Server.AllocationCount);
    }

    [Fact]
    public void Draining_without_an_alternate_of_the_clients_family_refuses_with_508()
    {
        TurnTestHost host = Host(2000, AlternateV6);
        host.Server.Draining = true;

        StunResponse answer = host.Client().Allocate();

        Assert.Equal(StunErrorCode.InsufficientCapacity, answer.ErrorCode);
        Assert.False(answer.Has(StunAttributeType.AlternateServer));
        Assert.Equal(0, host.Server.Counters.AllocationsRedirected);
    }

    [Fact]
    public void At_the_allocation_limit_the_next_client_is_sent_to_an_alternate_and_without_one_gets_508()
    {
        TurnTestHost withAlternate = Host(1, AlternateA);
        Assert.True(withAlternate.Client(clientPort: 40001).Allocate().IsSuccess);

        StunResponse full = withAlternate.Client(clientPort: 40002).Allocate();

        Assert.Equal(StunErrorCode.TryAlternate, full.ErrorCode);
        Assert.Equal(AlternateA, AlternateServer(full));

        TurnTestHost alone = Host(1);
        Assert.True(alone.Client(clientPort: 40001).Allocate().IsSuccess);
        Assert.Equal(StunErrorCode.InsufficientCapacity, alone.Client(clientPort: 40002).Allocate().ErrorCode);
    }
}
