using Microsoft.Extensions.Logging;

namespace EdgeRelay;

internal static partial class ProgramLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "EdgeRelay {Version} relaying, advertising relayed addresses on {Advertised}")]
    public static partial void Started(ILogger logger, string version, string advertised);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "relay.externalAddress is not set: advertising {Address}, this host's first address. Set it when clients reach the relay through NAT.")]
    public static partial void AdvertisingDetectedAddress(ILogger logger, string address);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "No credential is configured (auth.users, auth.sharedSecrets): every Allocate will be refused.")]
    public static partial void NoCredentials(ILogger logger);
}
