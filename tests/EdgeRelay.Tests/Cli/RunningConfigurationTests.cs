using System.Net;
using EdgeRelay.Appliance.Web;
using EdgeRelay.Configuration;
using EdgeRelay.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Tests.Cli;

/// <summary>
/// <see cref="RunningConfiguration"/> with a real engine: what relay.externalAddress "auto" advertises as the
/// self-check's results and the cloud's documents come, and which results it passes over.
/// </summary>
public sealed class RunningConfigurationTests : IAsyncLifetime
{
    private static readonly IPAddress Public = IPAddress.Parse("203.0.113.7");
    private RunningRelay _relay = null!;
    private RunningConfiguration _running = null!;

    public Task InitializeAsync()
    {
        _relay = RunningRelay.Start(allowLoopback: true, c => c with
        {
            Relay = c.Relay with { ExternalAddressAuto = true },
            SelfCheck = new SelfCheckSection { StunServers = [new("127.0.0.1", 3478)] },
        });
        var appliance = new ApplianceService(_relay.Engine, _relay.Configuration, new ApplianceInfo("test", []), new RecentErrors(TimeProvider.System),
            NullLoggerFactory.Instance);
        _running = new RunningConfiguration(_relay.Engine, appliance, new LogLevelSwitch(_relay.Configuration.LogLevel), _relay.Configuration,
            new ApplianceInfo("test", []), NullLoggerFactory.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    private IPAddress Advertised => _relay.Engine.Server.Options.AdvertisedRelayAddressIPv4!;

    [Fact]
    public void Auto_advertises_the_relays_own_address_until_a_detected_one_comes_and_then_that_one()
    {
        Assert.Equal(IPAddress.Loopback, Advertised);

        _running.UseDetectedExternalAddress(Public, _running.Current.Relay);

        Assert.Equal(Public, Advertised);
    }

    [Fact]
    public void A_result_measured_for_another_relay_section_or_of_another_family_is_passed_over()
    {
        RelaySection before = _running.Current.Relay;
        _running.Apply(_running.Current with { Relay = before with { PortMin = before.PortMin + 1 } }, "cloud");

        _running.UseDetectedExternalAddress(Public, before);
        _running.UseDetectedExternalAddress(IPAddress.Parse("2001:db8::7"), _running.Current.Relay);

        Assert.Equal(IPAddress.Loopback, Advertised);
    }

    [Fact]
    public void A_document_with_the_same_relay_section_keeps_the_detected_address_and_a_changed_one_starts_again_from_the_own_address()
    {
        _running.UseDetectedExternalAddress(Public, _running.Current.Relay);

        _running.Apply(_running.Current with { Version = 2 }, "cloud");
        Assert.Equal(Public, Advertised);

        _running.Apply(_running.Current with { Version = 3, Relay = _running.Current.Relay with { PortMin = _running.Current.Relay.PortMin + 1 } }, "cloud");
        Assert.Equal(IPAddress.Loopback, Advertised);
    }

    [Fact]
    public void Without_auto_a_detected_address_changes_nothing()
    {
        _running.Apply(_running.Current with { Relay = _running.Current.Relay with { ExternalAddressAuto = false, ExternalAddress = IPAddress.Parse("198.51.100.9") } }, "cloud");

        _running.UseDetectedExternalAddress(Public, _running.Current.Relay);

        Assert.Equal(IPAddress.Parse("198.51.100.9"), Advertised);
    }
}
