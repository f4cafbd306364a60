using EdgeRelay.Stun;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>RFC 8656 §8.2: receiving a Refresh request.</summary>
public sealed class TurnServerRefreshTests
{
    [Fact]
    public void Refresh_extends_the_allocation()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail();
        host.Time.AdvanceSeconds(500);

        StunResponse response = client.Refresh(900);

        Assert.True(response.IsSuccess, response.Describe());
        Assert.Equal(900u, response.GetUInt32(StunAttributeType.Lifetime));
        host.Time.AdvanceSeconds(899);
        host.Server.Tick();
        Assert.Equal(1, host.Server.AllocationCount);
        host.Time.AdvanceSeconds(1);
        host.Server.Tick();
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Refresh_without_lifetime_grants_the_default()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail(r => r.Lifetime(3600));

        StunResponse response = client.Refresh();

        Assert.Equal(600u, response.GetUInt32(StunAttributeType.Lifetime));
    }

    [Fact]
    public void Refresh_lifetime_is_capped_at_3600()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail();

        Assert.Equal(3600u, client.Refresh(100_000).GetUInt32(StunAttributeType.Lifetime));
    }

    [Fact]
    public void Refresh_with_lifetime_0_deletes_the_allocation_and_frees_its_port()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail();

        StunResponse response = client.Refresh(0);

        Assert.True(response.IsSuccess, response.Describe());
        Assert.Equal(0u, response.GetUInt32(StunAttributeType.Lifetime));
        Assert.True(response.VerifyMessageIntegrity(client.Md5Key));
        Assert.Equal(0, host.Server.AllocationCount);
        Assert.Null(client.Allocation);
        Assert.True(Assert.Single(host.Binder.Endpoints).IsDisposed);
        Assert.Equal(0, host.Server.RelayPortsInUse);
    }

    [Fact]
    public void Retransmitted_delete_gets_the_same_success()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail();
        byte[] delete = new StunRequest(StunMethod.Refresh).Lifetime(0).Encode(client.CurrentAuth());

        StunResponse first = client.SendRaw(delete)!;
        StunResponse retransmission = client.SendRaw(delete)!;

        Assert.True(first.IsSuccess, first.Describe());
        Assert.Equal(first.Bytes, retransmission.Bytes);
        Assert.Equal(1, Assert.Single(host.Binder.Endpoints).DisposeCount);
        Assert.Equal(0, host.Server.AllocationCountOf(TransportProtocol.Udp));
    }

    [Fact]
    public void A_new_delete_after_the_allocation_is_gone_is_rejected_with_437()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail();
        Assert.True(client.Refresh(0).IsSuccess);

        Assert.Equal(StunErrorCode.AllocationMismatch, client.Refresh(0).ErrorCode);
    }

    [Fact]
    public void Refresh_without_allocation_is_rejected_with_437()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().Refresh(600);

        Assert.Equal(StunErrorCode.AllocationMismatch, response.ErrorCode);
    }

    [Fact]
    public void Refresh_by_another_user_on_the_same_five_tuple_is_rejected_with_441()
    {
        var host = new TurnTestHost();
        FiveTuple fiveTuple = TurnTestHost.FiveTuple();
        host.Client(fiveTuple, "alice").AllocateOrFail();

        StunResponse response = host.Client(fiveTuple, "bob").Refresh(0);

        Assert.Equal(StunErrorCode.WrongCredentials, response.ErrorCode);
        Assert.Equal(1, host.Server.AllocationCount);
    }

    [Fact]
    public void Refresh_asking_for_another_address_family_is_rejected_with_443()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail();

        StunResponse response = client.Send(new StunRequest(StunMethod.Refresh).RequestedAddressFamily(StunAddressFamily.IPv6));

        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, response.ErrorCode);
    }

    [Fact]
    public void Refresh_after_expiry_but_before_the_tick_is_rejected_with_437()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail();
        host.Time.AdvanceSeconds(600);

        Assert.Equal(StunErrorCode.AllocationMismatch, client.Refresh().ErrorCode);
    }
}
