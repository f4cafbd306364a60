using Microsoft.Extensions.Logging;

namespace EdgeRelay;

internal static partial class ProgramLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "EdgeRelay {Version} relaying, advertising relayed addresses on {Advertised}")]
    public static partial void Started(ILogger logger, string version, string advertised);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "relay.externalAddress is not set: advertising {Address}, this host's first address. Set it when clients reach the relay through NAT.")]
    public static partial void AdvertisingDetectedAddress(ILogger logger, string address);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "relay.externalAddress is \"auto\": advertising {Address}, this host's address, until the self-check finds the public address")]
    public static partial void AdvertisingUntilSelfCheck(ILogger logger, string address);

    [LoggerMessage(EventId = 8, Level = LogLevel.Error, Message = "The self-check could not follow the configuration; it runs again after the next change or restart")]
    public static partial void SelfCheckFollowFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "Draining, asked by {By}: new allocations are {Where}; calls in progress go on")]
    public static partial void Draining(ILogger logger, string by, string where);

    [LoggerMessage(EventId = 16, Level = LogLevel.Information, Message = "Taking new allocations again, asked by {By}")]
    public static partial void Resumed(ILogger logger, string by);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "No credential is configured (auth.users, auth.sharedSecrets): every Allocate will be refused.")]
    public static partial void NoCredentials(ILogger logger);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "No credential yet: waiting for the configuration from {Url}; every Allocate is refused until it comes.")]
    public static partial void WaitingForCloud(ILogger logger, string url);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "The last known good configuration cannot be used, running on the bootstrap file: {Problem}")]
    public static partial void StoreUnusable(ILogger logger, string problem);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Running on the last known good configuration, version {Version}, until the cloud answers")]
    public static partial void RunningLastKnownGood(ILogger logger, long version);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Status: {Summary} (LEDs: {Leds})")]
    public static partial void StatusChanged(ILogger logger, string summary, string leds);

    [LoggerMessage(EventId = 14, Level = LogLevel.Error, Message = "LEDs ({Driver}) cannot be used: {Error}. They stay dark; the relay goes on.")]
    public static partial void LedsFailed(ILogger logger, string driver, string error);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Status page on {Url}")]
    public static partial void StatusPageListening(ILogger logger, string url);

    [LoggerMessage(EventId = 12, Level = LogLevel.Error, Message = "Status page cannot listen on {Endpoint}: {Error}. The relay goes on without it.")]
    public static partial void StatusPageFailed(ILogger logger, string endpoint, string error);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "Identify requested from the status page: LEDs chase for 15 s")]
    public static partial void Identify(ILogger logger);

    [LoggerMessage(EventId = 18, Level = LogLevel.Information,
        Message = "NTP servers for systemd-timesyncd: {Servers} (written to {Path}, which edgerelay-timesync.path hands to timesyncd)")]
    public static partial void NtpServersHandedOver(ILogger logger, string servers, string path);

    [LoggerMessage(EventId = 19, Level = LogLevel.Warning, Message = "time.ntpServers cannot be handed to systemd-timesyncd: {Path}: {Error}")]
    public static partial void NtpServersFailed(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning,
        Message = "updates are checked against the configuration's trusted keys: the bootstrap file has no cloud.releaseKeys, so whoever holds a configuration key can install software, and the slots' signatures are not checked again at each start (README, \"Updates\")")]
    public static partial void NoReleaseKeys(ILogger logger);
}
