using System.Net;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Tests.Diagnostics;

/// <summary>
/// The NAT behaviour probe against STUN servers that misbehave: garbage, answers without a mapped address or
/// with one of another family, errors, an OTHER-ADDRESS that cannot serve, CHANGE-REQUEST refused or ignored.
/// Each ends in a finding that says what went wrong, never in an exception or a behaviour the answers do not show.
/// </summary>
public sealed class NatBehaviorProbeRobustnessTests
{
    /// <summary>Short enough for a quick run, long enough for a busy test host to answer on loopback.</summary>
    private static Task<NatBehaviorReport> ProbeAsync(FakeTurnServer server, TimeSpan? lifetimeMax = null) =>
        NatBehaviorProbe.RunAsync(new NatBehaviorOptions
        {
            Servers = [new StunServerAddress("127.0.0.1", server.Port)],
            Timeout = TimeSpan.FromSeconds(1),
            LifetimeMax = lifetimeMax,
        });

    private static NatFinding Finding(NatBehaviorReport report, string name) =>
        report.Findings.SingleOrDefault(f => f.Name == name) ?? throw new Xunit.Sdk.XunitException($"no {name} in {report.Format()}");

    private static bool HasChangeRequest(byte[] request) =>
        StunMessageReader.TryParse(request, out StunMessageReader reader) == StunParseError.None && reader.HasAttribute(StunAttributeType.ChangeRequest);

    /// <summary>A Binding success with XOR-MAPPED-ADDRESS for the client and an OTHER-ADDRESS (RFC 5780 §7.4).</summary>
    private static byte[] WithOtherAddress(byte[] request, IPEndPoint client, TransportAddress other) =>
        FakeTurnServer.Respond(request, StunClass.SuccessResponse, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorMappedAddress, TransportAddress.FromIPEndPoint(client));
            w.AddAddress(StunAttributeType.OtherAddress, other);
        });

    [Fact]
    public async Task Garbage_is_passed_over_counted_and_reported_as_no_answer()
    {
        using var server = new FakeTurnServer((request, _) => TurnProbeRobustnessTests.Garbage(request));

        NatBehaviorReport report = await ProbeAsync(server);

        Assert.False(report.UdpWorks);
        Assert.False(report.Completed);
        Assert.Equal("no answer", Finding(report, NatBehaviorReport.UdpLine).Value);
        Assert.Contains("unreadable message(s) ignored", Finding(report, NatBehaviorReport.UdpLine).Detail, StringComparison.Ordinal);
        // RFC 8489 §6.2.1: retransmitted while nothing answered (the fake's loop may see the second one a little later).
        Assert.True(SpinWait.SpinUntil(() => server.Received.Count >= 2, TimeSpan.FromSeconds(10)), $"{server.Received.Count} datagrams");
    }

    [Fact]
    public async Task The_real_answer_after_garbage_is_taken_and_a_plain_server_gets_no_mapping_or_filtering_verdict()
    {
        using var server = new FakeTurnServer((request, from) => [.. TurnProbeRobustnessTests.Garbage(request), FakeTurnServer.BindingSuccess(request, from)]);

        NatBehaviorReport report = await ProbeAsync(server);

        Assert.True(report.Completed, report.Format());
        Assert.Equal("no NAT", Finding(report, NatBehaviorReport.NatLine).Value);
        Assert.Equal("not tested", Finding(report, NatBehaviorReport.MappingLine).Value);
        Assert.Equal("not tested", Finding(report, NatBehaviorReport.FilteringLine).Value);
    }

    [Fact]
    public async Task A_success_without_a_mapped_address_is_no_STUN_server()
    {
        using var server = new FakeTurnServer((request, _) => [FakeTurnServer.Respond(request, StunClass.SuccessResponse)]);

        NatBehaviorReport report = await ProbeAsync(server);

        Assert.True(report.UdpWorks);
        Assert.False(report.Completed);
        Assert.Contains("no XOR-MAPPED-ADDRESS", Finding(report, NatBehaviorReport.UdpLine).Detail, StringComparison.Ordinal);
        Assert.Contains("cannot serve as a STUN server", report.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_mapped_address_of_another_family_is_not_taken()
    {
        using var server = new FakeTurnServer((request, _) => [FakeTurnServer.Respond(request, StunClass.SuccessResponse, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorMappedAddress, TransportAddress.FromIPAddress(IPAddress.Parse("2001:db8::1"), 3478)))]);

        NatBehaviorReport report = await ProbeAsync(server);

        Assert.False(report.Completed);
        Assert.Equal("answered, but no mapped address", Finding(report, NatBehaviorReport.UdpLine).Value);
    }

    [Fact]
    public async Task An_error_response_to_test_I_is_named()
    {
        using var server = new FakeTurnServer((request, _) => [FakeTurnServer.Error(request, StunErrorCode.ServerError, "on fire\u001b[2J")]);

        NatBehaviorReport report = await ProbeAsync(server);

        Assert.False(report.Completed);
        string detail = Finding(report, NatBehaviorReport.UdpLine).Detail;
        Assert.Contains("500", detail, StringComparison.Ordinal);
        // The server's reason phrase is printed without its control characters.
        Assert.DoesNotContain('\u001b', detail);
    }

    [Fact]
    public async Task An_OTHER_ADDRESS_that_does_not_differ_in_address_and_port_is_not_used()
    {
        using var server = new FakeTurnServer((request, from) =>
            [WithOtherAddress(request, from, TransportAddress.FromIPv4(0x7F000001, 1))]);

        NatBehaviorReport report = await ProbeAsync(server);

        Assert.True(report.Completed);
        Assert.Equal("not usable", Finding(report, "other").Value);
        Assert.Equal("not tested", Finding(report, NatBehaviorReport.MappingLine).Value);
    }

    [Fact]
    public async Task An_OTHER_ADDRESS_where_nothing_answers_leaves_the_mapping_unknown()
    {
        // 127.0.0.3 is loopback, but the fake server listens on 127.0.0.1 only.
        using var server = new FakeTurnServer((request, from) => HasChangeRequest(request)
            ? []
            : [WithOtherAddress(request, from, TransportAddress.FromIPv4(0x7F000003, 1))]);

        NatBehaviorReport report = await ProbeAsync(server);

        Assert.True(report.Completed);
        Assert.Equal(NatMapping.Unknown, report.Mapping);
        Assert.Contains("test II, RFC 5780 §4.3: no answer from the other address", Finding(report, NatBehaviorReport.MappingLine).Detail, StringComparison.Ordinal);
        Assert.Contains("mapping behaviour is unknown", report.Verdict, StringComparison.Ordinal);
        // Silence from an other address that never answers proves nothing about filtering either.
        Assert.Equal(NatFiltering.Unknown, report.Filtering);
        Assert.Contains("did not answer the mapping tests", Finding(report, NatBehaviorReport.FilteringLine).Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// A server whose other address answers plain Binding requests (so the mapping test passes, RFC 5780 §4.3)
    /// and whose primary answers CHANGE-REQUEST with <paramref name="changed"/>: 127.0.0.1:P and 127.0.0.3:P.
    /// </summary>
    private static (FakeTurnServer Primary, FakeTurnServer Other) TwoAddresses(Func<byte[], IPEndPoint, IEnumerable<byte[]>> changed)
    {
        FakeTurnServer? other = null;
        var primary = new FakeTurnServer((request, from) => HasChangeRequest(request)
            ? changed(request, from)
            : [WithOtherAddress(request, from, TransportAddress.FromIPv4(0x7F000003, (ushort)(other!.Port + 1)))]);
        other = new FakeTurnServer((request, from) => [FakeTurnServer.BindingSuccess(request, from)], new IPEndPoint(IPAddress.Parse("127.0.0.3"), primary.Port));
        return (primary, other);
    }

    [Fact]
    public async Task A_server_that_answers_CHANGE_REQUEST_from_its_own_address_gets_no_filtering_verdict()
    {
        (FakeTurnServer server, FakeTurnServer other) = TwoAddresses((request, from) => [FakeTurnServer.BindingSuccess(request, from)]);
        using var _ = other;
        using var __ = server;

        NatBehaviorReport report = await ProbeAsync(server);

        // An answer that did not come from where CHANGE-REQUEST asked says nothing about filtering (RFC 5780 §4.4).
        Assert.Equal(NatFiltering.Unknown, report.Filtering);
        Assert.Contains($"not from 127.0.0.3:{other.Port + 1} as CHANGE-REQUEST asked", Finding(report, NatBehaviorReport.FilteringLine).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_refuses_CHANGE_REQUEST_gets_no_filtering_verdict()
    {
        (FakeTurnServer server, FakeTurnServer other) = TwoAddresses((request, _) =>
            [FakeTurnServer.Error(request, StunErrorCode.UnknownAttribute, "Unknown Attribute")]);
        using var _ = other;
        using var __ = server;

        NatBehaviorReport report = await ProbeAsync(server);

        Assert.Equal(NatFiltering.Unknown, report.Filtering);
        Assert.Contains("420", Finding(report, NatBehaviorReport.FilteringLine).Detail, StringComparison.Ordinal);
        Assert.Contains("does not run the RFC 5780 tests", Finding(report, NatBehaviorReport.FilteringLine).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_binding_lifetime_is_not_measured_against_a_server_that_ignores_RESPONSE_PORT()
    {
        using var server = new FakeTurnServer((request, from) =>
            StunMessageReader.TryParse(request, out StunMessageReader reader) == StunParseError.None && reader.HasAttribute(StunAttributeType.ResponsePort)
                ? [FakeTurnServer.Error(request, StunErrorCode.UnknownAttribute, "Unknown Attribute")]
                : [FakeTurnServer.BindingSuccess(request, from)]);

        NatBehaviorReport report = await ProbeAsync(server, lifetimeMax: TimeSpan.FromSeconds(1));

        Assert.Equal("not measured", Finding(report, NatBehaviorReport.LifetimeLine).Value);
        Assert.Contains("RESPONSE-PORT", Finding(report, NatBehaviorReport.LifetimeLine).Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("stun.example.com", "stun.example.com", 3478)]
    [InlineData("10.0.0.1:19302", "10.0.0.1", 19302)]
    [InlineData("[2001:db8::1]:3479", "2001:db8::1", 3479)]
    [InlineData("[2001:db8::1]", "2001:db8::1", 3478)]
    public void A_server_is_HOST_PORT_with_3478_by_default(string text, string host, int port)
    {
        Assert.True(StunServerAddress.TryParse(text, out StunServerAddress? server, out string error), error);
        Assert.Equal(new StunServerAddress(host, port), server);
    }

    [Theory]
    [InlineData("")]
    [InlineData(":3478")]
    [InlineData("host:0")]
    [InlineData("host:port")]
    [InlineData("2001:db8::1")]
    [InlineData("[2001:db8::1")]
    [InlineData("[not-v6]:3478")]
    public void A_malformed_server_is_refused_with_a_reason(string text)
    {
        Assert.False(StunServerAddress.TryParse(text, out _, out string error));
        Assert.Contains(text, error, StringComparison.Ordinal);
    }
}
