using EdgeRelay.Stun;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>What every STUN message goes through (RFC 8489 §6.3, §7.3, §14.7) and the Binding method.</summary>
public sealed class TurnServerMessageTests
{
    private const ushort UnknownRequired = 0x7777;
    private const ushort UnknownOptional = 0x8777;

    [Fact]
    public void Unknown_comprehension_required_attribute_is_answered_with_420_listing_it()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();

        StunResponse response = client.Allocate(r => r.Attribute(UnknownRequired, [1, 2, 3, 4]));

        Assert.Equal(StunErrorCode.UnknownAttribute, response.ErrorCode);
        Assert.Equal([UnknownRequired], response.UnknownAttributes);
        // The 420 comes after authentication (RFC 8489 §7.3), so it is signed.
        Assert.True(response.VerifyMessageIntegrity(client.Md5Key));
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Several_unknown_comprehension_required_attributes_are_all_listed_once()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().Allocate(r => r
            .Attribute(0x7777, [1]).Attribute(0x0042, [2]).Attribute(0x7777, [3]));

        Assert.Equal(StunErrorCode.UnknownAttribute, response.ErrorCode);
        Assert.Equal([(ushort)0x7777, (ushort)0x0042], response.UnknownAttributes);
    }

    [Fact]
    public void Unknown_comprehension_optional_attribute_is_ignored()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().Allocate(r => r.Attribute(UnknownOptional, [1, 2, 3, 4]));

        Assert.True(response.IsSuccess, response.Describe());
        Assert.Equal(1, host.Server.AllocationCount);
    }

    [Fact]
    public void Unauthenticated_request_with_unknown_attribute_is_challenged_first()
    {
        // RFC 8489 §7.3: the unknown-attribute check follows the authentication checks.
        var host = new TurnTestHost();

        StunResponse response = host.Client().SendOnce(TurnTestClient.AllocateRequest().Attribute(UnknownRequired, [0]));

        Assert.Equal(StunErrorCode.Unauthenticated, response.ErrorCode);
    }

    [Fact]
    public void Binding_request_is_answered_with_the_clients_xor_mapped_address()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client(username: null, clientIp: "203.0.113.77", clientPort: 61234);
        var request = new StunRequest(StunMethod.Binding);

        StunResponse response = client.SendOnce(request);

        Assert.Equal(StunMethod.Binding, response.Method);
        Assert.True(response.IsSuccess);
        Assert.Equal(request.TransactionId, response.TransactionId);
        Assert.Equal(TurnTestHost.Address("203.0.113.77", 61234), response.GetXorAddress(StunAttributeType.XorMappedAddress));
        Assert.False(response.Has(StunAttributeType.Fingerprint));
        Assert.False(response.Has(StunAttributeType.MessageIntegrity));
    }

    [Fact]
    public void Binding_request_from_an_ipv6_client_is_answered_with_its_ipv6_address()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client(username: null, clientIp: "2001:db8::42", clientPort: 5000);

        StunResponse response = client.SendOnce(new StunRequest(StunMethod.Binding));

        Assert.Equal(TurnTestHost.Address("2001:db8::42", 5000), response.GetXorAddress(StunAttributeType.XorMappedAddress));
    }

    [Fact]
    public void Binding_response_carries_a_fingerprint_when_the_request_had_one()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client(username: null).SendOnce(new StunRequest(StunMethod.Binding).WithFingerprint());

        Assert.True(response.IsSuccess);
        Assert.True(response.VerifyFingerprint());
        Assert.Equal((ushort)StunAttributeType.Fingerprint, response.AttributeTypes[^1]);
    }

    [Fact]
    public void Error_responses_carry_a_fingerprint_when_the_request_had_one()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().SendOnce(TurnTestClient.AllocateRequest().WithFingerprint());

        Assert.Equal(StunErrorCode.Unauthenticated, response.ErrorCode);
        Assert.True(response.VerifyFingerprint());
    }

    [Fact]
    public void Authenticated_success_carries_integrity_then_fingerprint_when_the_request_had_one()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();

        StunResponse response = client.Allocate(r => r.WithFingerprint());

        Assert.True(response.IsSuccess, response.Describe());
        Assert.True(response.VerifyMessageIntegrity(client.Md5Key));
        Assert.True(response.VerifyFingerprint());
    }

    [Fact]
    public void Request_with_a_bad_fingerprint_is_dropped()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client(username: null);
        byte[] request = new StunRequest(StunMethod.Binding).WithFingerprint().Encode();
        request[^1] ^= 0x01;

        Assert.Null(client.SendRaw(request));
        Assert.Equal(TurnActionKind.None, client.LastAction.Kind);
        Assert.Equal(1, host.Server.Counters.MalformedPackets);
    }

    [Fact]
    public void Binding_request_with_an_unknown_comprehension_required_attribute_is_answered_with_420()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client(username: null).SendOnce(new StunRequest(StunMethod.Binding).Attribute(UnknownRequired, [9]));

        Assert.Equal(StunErrorCode.UnknownAttribute, response.ErrorCode);
        Assert.Equal([UnknownRequired], response.UnknownAttributes);
    }

    [Fact]
    public void Binding_indication_is_a_keepalive_and_gets_no_answer()
    {
        var host = new TurnTestHost();

        Assert.Null(host.Client().SendRaw(new StunRequest(StunMethod.Binding, StunClass.Indication).Encode()));
    }

    [Fact]
    public void Responses_sent_to_the_server_are_ignored()
    {
        var host = new TurnTestHost();

        Assert.Null(host.Client().SendRaw(new StunRequest(StunMethod.Binding, StunClass.SuccessResponse).Encode()));
    }

    [Fact]
    public void Request_of_an_unknown_method_is_rejected_with_400()
    {
        var host = new TurnTestHost();

        StunResponse response = host.Client().SendOnce(new StunRequest((StunMethod)0x0ABC));

        Assert.Equal(StunErrorCode.BadRequest, response.ErrorCode);
    }

    [Fact]
    public void Send_indication_with_an_unknown_comprehension_required_attribute_is_discarded()
    {
        // RFC 8489 §6.3.2: "If the indication contains unknown comprehension-required attributes, the
        // indication is discarded and processing ceases."
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        client.AllocateOrFail();
        TransportAddress peer = TurnTestHost.Address("8.8.8.8", 5000);
        Assert.True(client.CreatePermission(peer).IsSuccess);
        byte[] indication = new StunRequest(StunMethod.Send, StunClass.Indication)
            .XorPeerAddress(peer).Attribute(UnknownRequired, [1]).Data([1, 2, 3]).Encode();

        TurnAction action = client.Handle(indication, out _);

        Assert.Equal(TurnActionKind.None, action.Kind);
    }

    [Fact]
    public void Garbage_that_is_not_stun_is_dropped_and_counted()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();

        Assert.Null(client.SendRaw([0x00, 0x01, 0x00]));
        Assert.Null(client.SendRaw(new byte[40]));
        Assert.Equal(2, host.Server.Counters.MalformedPackets);
    }
}
