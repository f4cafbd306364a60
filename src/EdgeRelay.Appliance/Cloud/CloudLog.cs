using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Cloud;

internal static partial class CloudLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "configuration version {Version} from {Url} applied (signed by key {KeyId}, was version {Previous})")]
    public static partial void Applied(ILogger logger, long version, string url, string keyId, long previous);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "configuration from {Url} refused, still running version {Version}: {Problem}")]
    public static partial void Rejected(ILogger logger, string url, long version, string problem);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning,
        Message = "configuration endpoint {Url} unreachable, still running version {Version}; next try in {RetrySeconds} s: {Problem}")]
    public static partial void Unreachable(ILogger logger, string url, long version, int retrySeconds, string problem);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information,
        Message = "configuration endpoint {Url} reachable again")]
    public static partial void Reachable(ILogger logger, string url);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error,
        Message = "configuration version {Version} is applied but could not be stored as the last known good one: {Problem}")]
    public static partial void StoreFailed(ILogger logger, long version, string problem);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "configuration at {Url} unchanged ({Status})")]
    public static partial void Unchanged(ILogger logger, string url, int status);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information,
        Message = "trusted keys rotated by configuration version {Version}: now {KeyIds}")]
    public static partial void KeysRotated(ILogger logger, long version, string keyIds);

    [LoggerMessage(EventId = 9, Level = LogLevel.Error, Message = "a configuration poll failed unexpectedly; polling goes on")]
    public static partial void PollFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 17, Level = LogLevel.Warning,
        Message = "configuration endpoint {Url} refused by TLS, still running version {Version}: {Problem}")]
    public static partial void ClockWrong(ILogger logger, string url, long version, string problem);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "report to {Url} failed: {Problem}")]
    public static partial void ReportFailed(ILogger logger, string url, string problem);
}
