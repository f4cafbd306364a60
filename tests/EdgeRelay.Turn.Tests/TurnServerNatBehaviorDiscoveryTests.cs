using System.Net;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>NAT behaviour discovery, RFC 5780 §6 and §6.1, as the core answers it; the sockets are the Net layer's.</summary>
public class TurnServerNatBehaviorDiscoveryTests
{
    private static readonly IPEndPoint Primary = IPEndPoint.Parse("192.0.2.1:3478");
    private static readonly IPAddress Alternate = IPAddress.Parse("192.0.2.2");
    private const int AlternatePort = 3479;
    private static readonly TransportAddress Client = TurnTestHost.Address("203.0.113.50", 40000);

    private static TurnTestHost Host(bool twoAddresses = true) => new(TurnTestHost.CreateOptions() is var options
        ? new TurnServerOptions
        {
            Realm = options.Realm,
            RelayAddressIPv4 = options.RelayAddressIPv4,
            AdvertisedRelayAddressIPv4 = options.AdvertisedRelayAddressIPv4,
            Users = options.Users,
            NatBehaviorDiscovery = twoAddresses ? new NatBehaviorDiscoveryOptions(Primary, Alternate, AlternatePort) : new NatBehaviorDiscoveryOptions(Primary),
        }
        : null);

    private static TransportAddress Local(string endpoint) => TransportAddress.FromIPEndPoint(IPEndPoint.Parse(endpoint));

    private static (TurnAction Action, StunResponse? Response) Send(TurnTestHost host, StunRequest request, string local = "192.0.2.1:3478",
        TransportProtocol protocol = TransportProtocol.Udp)
    {
        var response = new byte[TurnServer.MinResponseBufferLength];
        object context = new();
        TurnAction action = host.Server.HandleClientPacket(new FiveTuple(Client, Local(local), protocol), context, request.Encode(), response);
        Assert.Same(context, action.ClientContext);
        return (action, action.Kind == TurnActionKind.SendToClient ? new StunResponse(action.GetBytes(default, response)) : null);
    }

    private static TransportAddress PlainAddress(StunResponse response, StunAttributeType type) =>
        StunAddressCodec.TryDecode(response.Get(type) ?? throw new InvalidOperationException($"no {type} in {response}"), out TransportAddress address)
            ? address
            : throw new InvalidOperationException($"bad {type}");

    private static StunRequest Binding(ChangeRequestFlags? change = null)
    {
        var request = new StunRequest(StunMethod.Binding);
        return change is { } flags ? request.Attribute(StunAttributeType.ChangeRequest, [0, 0, 0, (byte)flags]) : request;
    }

    [Theory]
    [InlineData((ushort)StunAttributeType.ChangeRequest)]
    [InlineData((ushort)StunAttributeType.Padding)]
    [InlineData((ushort)StunAttributeType.ResponsePort)]
    public void Without_NAT_behaviour_discovery_its_attributes_get_420_as_from_a_server_that_does_not_know_them(ushort type)
    {
        var host = new TurnTestHost();
        StunResponse response = host.Client(username: null).SendOnce(new StunRequest(StunMethod.Binding).Attribute(type, [0, 0, 0, 6]));

        Assert.Equal(StunErrorCode.UnknownAttribute, response.ErrorCode);
        Assert.Equal([type], response.UnknownAttributes);
    }

    [Fact]
    public void Without_NAT_behaviour_discovery_a_Binding_success_is_as_before()
    {
        StunResponse response = new TurnTestHost().Client(username: null).SendOnce(new StunRequest(StunMethod.Binding));

        Assert.Equal([(ushort)StunAttributeType.XorMappedAddress], response.AttributeTypes);
    }

    [Fact]
    public void A_Binding_on_the_primary_endpoint_carries_both_mapped_addresses_RESPONSE_ORIGIN_and_OTHER_ADDRESS()
    {
        (TurnAction action, StunResponse? response) = Send(Host(), Binding());

        Assert.True(response!.IsSuccess);
        Assert.Equal(ResponseSource.Received, action.Source);
        Assert.Equal(Client, action.Destination);
        Assert.Equal(Client, response.GetXorAddress(StunAttributeType.XorMappedAddress));
        Assert.Equal(Client, PlainAddress(response, StunAttributeType.MappedAddress));
        Assert.Equal(Local("192.0.2.1:3478"), PlainAddress(response, StunAttributeType.ResponseOrigin));
        Assert.Equal(Local("192.0.2.2:3479"), PlainAddress(response, StunAttributeType.OtherAddress));
    }

    [Theory]
    [InlineData("192.0.2.1:3478", ChangeRequestFlags.None, ResponseSource.Received, "192.0.2.1:3478", "192.0.2.2:3479")]
    [InlineData("192.0.2.1:3478", ChangeRequestFlags.ChangePort, ResponseSource.ChangedPort, "192.0.2.1:3479", "192.0.2.2:3479")]
    [InlineData("192.0.2.1:3478", ChangeRequestFlags.ChangeIP, ResponseSource.ChangedAddress, "192.0.2.2:3478", "192.0.2.2:3479")]
    [InlineData("192.0.2.1:3478", ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort, ResponseSource.ChangedAddressAndPort, "192.0.2.2:3479", "192.0.2.2:3479")]
    [InlineData("192.0.2.2:3479", ChangeRequestFlags.None, ResponseSource.Received, "192.0.2.2:3479", "192.0.2.1:3478")]
    [InlineData("192.0.2.2:3479", ChangeRequestFlags.ChangeIP, ResponseSource.ChangedAddress, "192.0.2.1:3479", "192.0.2.1:3478")]
    [InlineData("192.0.2.1:3479", ChangeRequestFlags.ChangePort, ResponseSource.ChangedPort, "192.0.2.1:3478", "192.0.2.2:3478")]
    [InlineData("192.0.2.2:3478", ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort, ResponseSource.ChangedAddressAndPort, "192.0.2.1:3479", "192.0.2.1:3479")]
    public void CHANGE_REQUEST_picks_the_endpoint_the_answer_leaves_from_as_RFC_5780_Table_1_says(string local, ChangeRequestFlags change,
        ResponseSource source, string origin, string other)
    {
        (TurnAction action, StunResponse? response) = Send(Host(), Binding(change), local);

        Assert.True(response!.IsSuccess, response.Describe());
        Assert.Equal(source, action.Source);
        Assert.Equal(Local(origin), PlainAddress(response, StunAttributeType.ResponseOrigin));
        Assert.Equal(Local(other), PlainAddress(response, StunAttributeType.OtherAddress));
    }

    [Fact]
    public void A_malformed_CHANGE_REQUEST_gets_400()
    {
        (_, StunResponse? response) = Send(Host(), new StunRequest(StunMethod.Binding).Attribute(StunAttributeType.ChangeRequest, [0, 6]));
        Assert.Equal(StunErrorCode.BadRequest, response!.ErrorCode);
    }

    [Fact]
    public void RESPONSE_PORT_sends_the_answer_to_that_port_of_the_clients_address()
    {
        (TurnAction action, StunResponse? response) = Send(Host(), Binding(ChangeRequestFlags.ChangePort)
            .Attribute(StunAttributeType.ResponsePort, [0x1F, 0x90, 0, 0]));

        Assert.True(response!.IsSuccess);
        Assert.Equal(Client.WithPort(8080), action.Destination);
        Assert.Equal(ResponseSource.ChangedPort, action.Source);
        Assert.Equal(Client, response.GetXorAddress(StunAttributeType.XorMappedAddress));
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 0 })]
    [InlineData(new byte[] { 0x1F, 0x90 })]
    public void A_RESPONSE_PORT_that_is_malformed_or_0_gets_400_sent_back_the_way_the_request_came(byte[] value)
    {
        (TurnAction action, StunResponse? response) = Send(Host(), Binding().Attribute(StunAttributeType.ResponsePort, value));

        Assert.Equal(StunErrorCode.BadRequest, response!.ErrorCode);
        Assert.Equal(Client, action.Destination);
    }

    [Fact]
    public void PADDING_with_RESPONSE_PORT_gets_400()
    {
        (TurnAction action, StunResponse? response) = Send(Host(), Binding()
            .Attribute(StunAttributeType.Padding, new byte[100])
            .Attribute(StunAttributeType.ResponsePort, [0x1F, 0x90, 0, 0]));

        Assert.Equal(StunErrorCode.BadRequest, response!.ErrorCode);
        Assert.Equal(Client, action.Destination);
        Assert.Equal(ResponseSource.Received, action.Source);
    }

    [Theory]
    [InlineData(1500)]
    [InlineData(400)]
    [InlineData(10)]
    [InlineData(0)]
    public void PADDING_is_answered_with_PADDING_that_never_makes_the_answer_larger_than_the_request(int padding)
    {
        StunRequest request = Binding(ChangeRequestFlags.ChangeIP).Attribute(StunAttributeType.Padding, new byte[padding]).WithFingerprint();
        int requestLength = request.Encode().Length;

        (_, StunResponse? response) = Send(Host(), request);

        Assert.True(response!.IsSuccess);
        Assert.True(response.Has(StunAttributeType.Padding));
        Assert.True(response.VerifyFingerprint());
        Assert.True(response.Bytes.Length <= Math.Max(requestLength, 20 + 12 + 12 + 12 + 12 + 4 + 8), $"{response.Bytes.Length} > {requestLength}");
        if (padding >= 400)
        {
            // Padded up to the request's size: the fragmentation test the client asked for (RFC 5780 §7.6).
            Assert.True(response.Bytes.Length > requestLength - 4 - 20, $"{response.Bytes.Length} vs {requestLength}");
        }
    }

    [Fact]
    public void PADDING_never_overflows_the_response_buffer()
    {
        byte[] buffer = new byte[9000];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, new byte[12]);
        writer.AddPadding(8000);
        byte[] request = writer.Written.ToArray();
        var response = new byte[TurnServer.MinResponseBufferLength];

        TurnAction action = Host().Server.HandleClientPacket(new FiveTuple(Client, Local("192.0.2.1:3478"), TransportProtocol.Udp), null, request, response);

        Assert.Equal(TurnActionKind.SendToClient, action.Kind);
        Assert.True(new StunResponse(action.GetBytes(default, response)).IsSuccess);
        Assert.True(action.Length <= TurnServer.MinResponseBufferLength);
        Assert.True(action.Length > TurnServer.MinResponseBufferLength - 4);
    }

    [Fact]
    public void With_one_address_there_is_no_OTHER_ADDRESS_and_CHANGE_REQUEST_gets_420()
    {
        TurnTestHost host = Host(twoAddresses: false);
        (TurnAction plain, StunResponse? success) = Send(host, Binding());

        Assert.True(success!.IsSuccess);
        Assert.Equal(Local("192.0.2.1:3478"), PlainAddress(success, StunAttributeType.ResponseOrigin));
        Assert.False(success.Has(StunAttributeType.OtherAddress));
        Assert.Equal(ResponseSource.Received, plain.Source);

        foreach (ChangeRequestFlags change in new[] { ChangeRequestFlags.None, ChangeRequestFlags.ChangePort, ChangeRequestFlags.ChangeIP })
        {
            // RFC 5780 §6: "MUST respond with a 420 (Unknown Attribute) to any Request with a CHANGE-REQUEST attribute".
            (TurnAction action, StunResponse? error) = Send(host, Binding(change));
            Assert.Equal(StunErrorCode.UnknownAttribute, error!.ErrorCode);
            Assert.Equal([(ushort)StunAttributeType.ChangeRequest], error.UnknownAttributes);
            Assert.Equal(ResponseSource.Received, action.Source);
        }

        (TurnAction redirected, StunResponse? toPort) = Send(host, Binding().Attribute(StunAttributeType.ResponsePort, [0x1F, 0x90, 0, 0]));
        Assert.True(toPort!.IsSuccess);
        Assert.Equal(Client.WithPort(8080), redirected.Destination);
    }

    [Fact]
    public void Unknown_comprehension_required_attributes_still_get_420_with_NAT_behaviour_discovery()
    {
        (_, StunResponse? response) = Send(Host(), Binding(ChangeRequestFlags.ChangeIP).Attribute(0x0031, [0, 0, 0, 0]));

        Assert.Equal(StunErrorCode.UnknownAttribute, response!.ErrorCode);
        Assert.Equal([(ushort)0x0031], response.UnknownAttributes);
    }

    [Theory]
    [InlineData("192.0.2.1:3479")]
    [InlineData("192.0.2.2:3478")]
    [InlineData("192.0.2.2:3479")]
    public void An_Allocate_to_an_alternate_endpoint_gets_400_there_is_no_relaying_there(string local)
    {
        TurnTestHost host = Host();
        (TurnAction action, StunResponse? response) = Send(host, TurnTestClient.AllocateRequest(), local);

        Assert.Equal(StunErrorCode.BadRequest, response!.ErrorCode);
        Assert.Contains("STUN Binding only", response.Describe() + System.Text.Encoding.UTF8.GetString(response.Bytes), StringComparison.Ordinal);
        Assert.Equal(0, host.Server.AllocationCount);
        Assert.Equal(ResponseSource.Received, action.Source);
    }

    [Fact]
    public void An_Allocate_to_the_primary_endpoint_is_handled_as_always()
    {
        (_, StunResponse? response) = Send(Host(), TurnTestClient.AllocateRequest());

        Assert.Equal(StunErrorCode.Unauthenticated, response!.ErrorCode);
    }

    [Fact]
    public void Binding_on_another_listener_or_over_TCP_is_answered_as_without_NAT_behaviour_discovery()
    {
        TurnTestHost host = Host();
        (_, StunResponse? other) = Send(host, Binding(ChangeRequestFlags.ChangeIP), "192.0.2.9:3478");
        (_, StunResponse? tcp) = Send(host, Binding(ChangeRequestFlags.ChangeIP), "192.0.2.1:3478", TransportProtocol.Tcp);

        Assert.Equal(StunErrorCode.UnknownAttribute, other!.ErrorCode);
        Assert.Equal(StunErrorCode.UnknownAttribute, tcp!.ErrorCode);
    }

    [Fact]
    public void Reconfigure_keeps_the_NAT_behaviour_discovery_the_server_was_made_with()
    {
        TurnTestHost host = Host();
        host.Server.Reconfigure(TurnTestHost.CreateOptions());

        (TurnAction action, StunResponse? response) = Send(host, Binding(ChangeRequestFlags.ChangeIP));
        Assert.True(response!.IsSuccess);
        Assert.Equal(ResponseSource.ChangedAddress, action.Source);
    }

    [Theory]
    [InlineData("0.0.0.0:3478", null, 0)]
    [InlineData("192.0.2.1:3478", "192.0.2.1", 3479)]
    [InlineData("192.0.2.1:3478", "192.0.2.2", 3478)]
    [InlineData("192.0.2.1:3478", "2001:db8::1", 3479)]
    [InlineData("192.0.2.1:3478", "192.0.2.2", 0)]
    public void Options_refuse_endpoints_that_cannot_make_four_distinct_ones(string primary, string? alternate, int port) =>
        Assert.Throws<ArgumentException>(() => new NatBehaviorDiscoveryOptions(IPEndPoint.Parse(primary), alternate is null ? null : IPAddress.Parse(alternate), port));
}
