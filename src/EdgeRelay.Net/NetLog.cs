using Microsoft.Extensions.Logging;

namespace EdgeRelay.Net;

internal static partial class NetLog
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Listening on {Transport} {Endpoint}")]
    public static partial void Listening(ILogger logger, string transport, string endpoint);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "Send to {Destination} failed: {Error}")]
    public static partial void SendFailed(ILogger logger, string destination, string error);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "Receive on {Endpoint} failed: {Error}")]
    public static partial void ReceiveFailed(ILogger logger, string endpoint, string error);

    [LoggerMessage(EventId = 203, Level = LogLevel.Error, Message = "Relay loop failed")]
    public static partial void LoopFailed(ILogger logger, Exception exception);
}
