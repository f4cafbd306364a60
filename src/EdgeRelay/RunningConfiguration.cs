using System.Net;
using EdgeRelay.Configuration;
using EdgeRelay.Net;
using EdgeRelay.Turn;
using Microsoft.Extensions.Logging;

namespace EdgeRelay;

/// <summary>
/// The one way a configuration reaches the running box, one change at a time: a cloud document
/// (<see cref="Apply"/>) and the public address the self-check found for <c>relay.externalAddress: "auto"</c>
/// (<see cref="UseDetectedExternalAddress"/>) both become the TURN core's options, listeners and stream
/// limits through the engine (existing allocations stay), then LEDs, status page and log level.
/// </summary>
internal sealed class RunningConfiguration(
    RelayEngine engine, ApplianceService appliance, LogLevelSwitch logLevel, RelayConfiguration initial, ApplianceInfo initialInfo, ILoggerFactory loggerFactory)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("EdgeRelay");
    private readonly Lock _gate = new();
    private RelayConfiguration _current = initial;
    private string _source = initialInfo.ConfigurationSource;
    private IPAddress? _detectedExternalAddress;

    public RelayConfiguration Current => Volatile.Read(ref _current);

    /// <summary>After a configuration was applied (not after a new detected address), outside the lock.</summary>
    public event Action<RelayConfiguration>? Applied;

    /// <summary>
    /// The relay first: its change is all-or-nothing (a listener that cannot be bound or a certificate that
    /// cannot be loaded leaves it as it was, and <see cref="ListenerBindException"/> says why). Then the
    /// appliance, whose parts report their own trouble and never undo a relay change.
    /// </summary>
    /// <param name="source">Where it comes from, as the page shows it ("cloud").</param>
    public void Apply(RelayConfiguration next, string source)
    {
        lock (_gate)
        {
            // A detected address holds for the relay section it was measured from: a new relay.address (or
            // "auto" off) starts again from the box's own address until the self-check has looked anew.
            ApplyLocked(next, source, next.Relay == _current.Relay ? _detectedExternalAddress : null);
        }
        Applied?.Invoke(next);
    }

    /// <summary>
    /// The self-check vouched for <paramref name="address"/> as the public address (endpoint-independent
    /// mapping that keeps ports), measured from <paramref name="measuredFor"/>: with <c>externalAddress: "auto"</c>,
    /// new allocations are advertised on it. Allocations made before keep the address they were given (RFC 8656
    /// §7.3: the relayed transport address does not change for an allocation's lifetime). A result measured
    /// for a relay section that is no longer in force, or of another family than IPv4, is passed over.
    /// Never throws: a failure is logged and the relay goes on as it was.
    /// </summary>
    public void UseDetectedExternalAddress(IPAddress address, RelaySection measuredFor)
    {
        lock (_gate)
        {
            if (!_current.Relay.ExternalAddressAuto || _current.Relay != measuredFor
                || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || address.Equals(_detectedExternalAddress))
            {
                return;
            }
            IPAddress was = engine.Server.Options.AdvertisedRelayAddressIPv4!;
            try
            {
                ApplyLocked(_current, _source, address);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                RunningConfigurationLog.DetectedAddressFailed(_logger, address.ToString(), e.Message);
                return;
            }
            RunningConfigurationLog.DetectedAddressUsed(_logger, address.ToString(), was.ToString());
        }
    }

    private void ApplyLocked(RelayConfiguration next, string source, IPAddress? detectedExternalAddress)
    {
        TurnServerOptions turnOptions = TurnOptionsFactory.Create(next, TurnOptionsFactory.GetLocalAddresses(), detectedExternalAddress);
        engine.Reconfigure(turnOptions, TurnOptionsFactory.CreateListeners(next), TurnOptionsFactory.CreateStreamLimits(next));
        // The relay runs the new configuration from here on, whatever the appliance's parts make of it.
        Volatile.Write(ref _current, next);
        _source = source;
        _detectedExternalAddress = detectedExternalAddress;
        logLevel.Level = next.LogLevel;
        try
        {
            appliance.Apply(next, new ApplianceInfo(source,
                ApplianceInfo.IceServerUrlsFor(next, turnOptions.AdvertisedRelayAddressIPv4 ?? turnOptions.AdvertisedRelayAddressIPv6!)));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            RunningConfigurationLog.ApplianceApplyFailed(_logger, next.Version, e);
        }
    }
}

internal static partial class RunningConfigurationLog
{
    [LoggerMessage(EventId = 31, Level = LogLevel.Error,
        Message = "configuration version {Version} is applied to the relay, but the appliance (LEDs, status page) could not follow")]
    public static partial void ApplianceApplyFailed(ILogger logger, long version, Exception exception);

    [LoggerMessage(EventId = 32, Level = LogLevel.Information,
        Message = "relay.externalAddress \"auto\": new allocations are advertised on {Address}, the public address the self-check found (was {Was})")]
    public static partial void DetectedAddressUsed(ILogger logger, string address, string was);

    [LoggerMessage(EventId = 33, Level = LogLevel.Error,
        Message = "relay.externalAddress \"auto\": the public address {Address} could not be applied: {Problem}")]
    public static partial void DetectedAddressFailed(ILogger logger, string address, string problem);
}
