using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Update;

internal static partial class UpdateLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "update to {Version}: {Manifest} verified (signed by key {KeyId}); downloading into slot {Slot}")]
    public static partial void Downloading(ILogger logger, string version, string manifest, string keyId, string slot);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "update to {Version} refused, {Running} stays: {Problem} (looked at again in {RetryMinutes} min, or when the cloud names another target)")]
    public static partial void Refused(ILogger logger, string version, string running, string problem, int retryMinutes);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "update to {Version} not done yet, next try in {RetrySeconds} s: {Problem}")]
    public static partial void Retrying(ILogger logger, string version, int retrySeconds, string problem);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "update to {Version}: installed in slot {Slot}; switching from {Running} and restarting")]
    public static partial void Switching(ILogger logger, string version, string slot, string running);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "release {Version} in slot {Slot} is healthy: the update is complete (was {Previous})")]
    public static partial void Committed(ILogger logger, string version, string slot, string previous);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error, Message = "release {Version} in slot {Slot} is not healthy after {Seconds} s ({Problem}): rolling back to {Previous}")]
    public static partial void RollingBack(ILogger logger, string version, string slot, int seconds, string problem, string previous);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "update to {Version}: waiting for the update window {Window}")]
    public static partial void WaitingForWindow(ILogger logger, string version, string window);

    [LoggerMessage(EventId = 8, Level = LogLevel.Error, Message = "release {Version} was rolled back on this box ({Reason}); it is not tried again until the cloud names a newer version")]
    public static partial void RolledBack(ILogger logger, string version, string reason);

    [LoggerMessage(EventId = 9, Level = LogLevel.Error, Message = "release {Version}: the rollback cannot be written ({Problem}); restarting, and the slot selector rolls back after the trial's last start")]
    public static partial void RollbackNotSaved(ILogger logger, string version, string problem);

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "release {Version} is healthy, but its commit cannot be written ({Problem}): restarting, and the next start counts as another start of its trial")]
    public static partial void CommitNotSaved(ILogger logger, string version, string problem);
}
