using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Systemd;

internal static partial class SystemdLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "systemd watchdog: interval {IntervalSeconds} s (0: none), checking the relay every {PeriodSeconds} s")]
    public static partial void WatchdogStarted(ILogger logger, double intervalSeconds, double periodSeconds);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error,
        Message = "{Part} has not moved for {Seconds} s: withholding the systemd watchdog ping")]
    public static partial void Stalled(ILogger logger, string part, double seconds);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "the relay moves again: pinging the systemd watchdog")]
    public static partial void Resumed(ILogger logger);
}
