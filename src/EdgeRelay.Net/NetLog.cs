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

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "io_uring not used ({Reason}): UDP runs on recvmmsg/sendmmsg")]
    public static partial void IoUringUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "TLS certificate {Path} reloaded: {Subject}, valid until {NotAfter}")]
    public static partial void CertificateReloaded(ILogger logger, string path, string subject, string notAfter);

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "TLS certificate {Path} changed but cannot be loaded ({Error}); the previous one stays in service")]
    public static partial void CertificateReloadFailed(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 212, Level = LogLevel.Debug, Message = "Connection from {Client} refused: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string client, string reason);

    [LoggerMessage(EventId = 213, Level = LogLevel.Debug, Message = "Connection {FiveTuple} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, string fiveTuple, string reason);

    [LoggerMessage(EventId = 205, Level = LogLevel.Information, Message = "Listener added: {Transport} {Endpoint}")]
    public static partial void ListenerAdded(ILogger logger, string transport, string endpoint);

    [LoggerMessage(EventId = 206, Level = LogLevel.Information,
        Message = "Listener removed: udp {Endpoint}; {Allocations} allocations made through it ended with it")]
    public static partial void UdpListenerRemoved(ILogger logger, string endpoint, int allocations);

    [LoggerMessage(EventId = 207, Level = LogLevel.Information,
        Message = "Listener removed: {Transport} {Endpoint}; its {Connections} open connections stay until they end")]
    public static partial void StreamListenerRemoved(ILogger logger, string transport, string endpoint, int connections);

    [LoggerMessage(EventId = 214, Level = LogLevel.Information,
        Message = "TLS listener {Endpoint} now serves the certificate {Path}: {Subject}, valid until {NotAfter}")]
    public static partial void CertificateReplaced(ILogger logger, string endpoint, string path, string subject, string notAfter);

    [LoggerMessage(EventId = 215, Level = LogLevel.Information,
        Message = "NAT behaviour discovery (RFC 5780) on udp {Primary}, {AlternatePort}, {AlternateAddress} and {AlternateBoth}: CHANGE-REQUEST, OTHER-ADDRESS, RESPONSE-ORIGIN, RESPONSE-PORT and PADDING are answered; the three alternate endpoints serve STUN Binding only")]
    public static partial void NatDiscoveryFull(ILogger logger, string primary, string alternatePort, string alternateAddress, string alternateBoth);

    [LoggerMessage(EventId = 216, Level = LogLevel.Warning,
        Message = "NAT behaviour discovery (RFC 5780) on udp {Primary} with one address: only part of the tests are possible. Clients learn their mapped address, RESPONSE-ORIGIN, the binding lifetime (RESPONSE-PORT) and fragment handling (PADDING); the mapping and filtering behaviour tests need natDiscovery.alternateAddress and alternatePort: CHANGE-REQUEST gets 420 and no OTHER-ADDRESS is sent (RFC 5780 §6)")]
    public static partial void NatDiscoveryPartial(ILogger logger, string primary);

    [LoggerMessage(EventId = 217, Level = LogLevel.Warning,
        Message = "NAT behaviour discovery (RFC 5780) stopped: its udp listener {Primary} was removed from the configuration; a restart brings it back")]
    public static partial void NatDiscoveryStopped(ILogger logger, string primary);

    [LoggerMessage(EventId = 218, Level = LogLevel.Warning,
        Message = "natDiscovery changed: the change takes effect at the next start (its sockets are bound once)")]
    public static partial void NatDiscoveryChangeNeedsRestart(ILogger logger);
}
