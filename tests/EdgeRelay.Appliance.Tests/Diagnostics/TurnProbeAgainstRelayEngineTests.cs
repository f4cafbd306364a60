using System.Net;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Net;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Appliance.Tests.Diagnostics;

/// <summary>
/// The probe against the real relay engine on loopback, under the default peer policy with the relay's
/// own relayed addresses as the only exception (what the configuration gives every box): UDP and TCP
/// pass every step, with SHA-256 credentials, and leave no allocation behind.
/// </summary>
public sealed class TurnProbeAgainstRelayEngineTests : IAsyncLifetime
{
    private const string User = "tech";
    private const string Password = "probe-password";

    private static readonly int RelayPortMin = 49900 + Environment.ProcessId % 40 * 10;

    private readonly RelayEngine _engine = new(new TurnServerOptions
    {
        Realm = "edgerelay.test",
        RelayAddressIPv4 = IPAddress.Loopback,
        RelayPortMin = RelayPortMin,
        RelayPortMax = RelayPortMin + 9,
        Users = new Dictionary<string, string> { [User] = Password },
        PeerPolicy = new PeerAddressPolicy(ownRelayAddresses: [IPAddress.Loopback], relayPortMin: RelayPortMin, relayPortMax: RelayPortMin + 9),
    }, TimeProvider.System, loops: 1);

    public Task InitializeAsync()
    {
        _engine.Start([ListenerOptions.Udp(new IPEndPoint(IPAddress.Loopback, 0)), new ListenerOptions(TransportProtocol.Tcp, new IPEndPoint(IPAddress.Loopback, 0))]);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _engine.DisposeAsync();

    private async Task<TurnProbeReport> ProbeAsync(ProbeTransport transport, string password = Password)
    {
        IPEndPoint server = transport == ProbeTransport.Udp ? _engine.LocalEndPoints[0] : _engine.StreamEndPoints[0].EndPoint;
        return await TurnProbe.RunAsync(new TurnProbeOptions
        {
            Server = new TurnUrl("127.0.0.1", server.Port, transport),
            Username = User,
            Password = password,
            Count = 10,
        });
    }

    [Theory]
    [InlineData(ProbeTransport.Udp)]
    [InlineData(ProbeTransport.Tcp)]
    public async Task Every_step_passes_with_sha256_credentials_and_nothing_is_left_allocated(ProbeTransport transport)
    {
        TurnProbeReport report = await ProbeAsync(transport);
        Assert.True(report.Passed, string.Join('\n', report.Steps.Select(ProbeText.Line)));
        Assert.Equal([TurnProbe.BindingStep, TurnProbe.AllocateStep, TurnProbe.PeerAllocateStep, TurnProbe.PermissionStep,
            TurnProbe.ChannelBindStep, TurnProbe.EchoStep, TurnProbe.ReleaseStep], report.Steps.Select(s => s.Name));
        Assert.EndsWith(", SHA-256 credentials", report.Steps[1].Detail, StringComparison.Ordinal);
        Assert.Equal(10, report.Echo!.Received);
        Assert.Equal(0, report.Echo.Lost);
        Assert.NotNull(report.Echo.P99Milliseconds);
        Assert.Equal(0, _engine.Server.AllocationCount);
        Assert.True(_engine.Server.Counters.GetPeerRefusals(PeerDecision.RefusedLoopback) == 0);
    }

    [Fact]
    public async Task A_wrong_password_fails_at_allocate_with_401()
    {
        TurnProbeReport report = await ProbeAsync(ProbeTransport.Udp, "not-the-password");
        Assert.Equal(TurnProbe.AllocateStep, report.FirstFailure?.Name);
        Assert.Equal("401 Unauthenticated: wrong user name or password", report.FirstFailure!.Detail);
        Assert.DoesNotContain("not-the-password", ProbeText.Format(report), StringComparison.Ordinal);
    }
}
