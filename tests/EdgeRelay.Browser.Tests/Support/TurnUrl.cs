using EdgeRelay.Configuration;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Browser.Tests.Support;

/// <summary>
/// A TURN URL as a web developer writes it into iceServers (RFC 7065), with <c>{port}</c> standing for
/// the port of the relay's listener of the transport the URL asks for.
/// </summary>
public static class TurnUrl
{
    /// <summary>turns: is TLS; turn:?transport=tcp is TCP; anything else UDP (RFC 7065 §3).</summary>
    public static ListenerTransport TransportOf(string url)
    {
        if (url.StartsWith("turns:", StringComparison.OrdinalIgnoreCase))
        {
            return ListenerTransport.Tls;
        }
        return url.Contains("transport=tcp", StringComparison.OrdinalIgnoreCase) ? ListenerTransport.Tcp : ListenerTransport.Udp;
    }

    public static string Resolve(string template, RunningRelay relay)
    {
        ListenerTransport transport = TransportOf(template);
        ListenerConfiguration? listener = relay.Configuration.Listeners.FirstOrDefault(l => l.Transport == transport);
        Assert.True(listener is not null,
            $"{template}: the relay under test has no {transport} listener (RunningRelay starts {string.Join(", ", relay.Configuration.Listeners.Select(l => l.Transport))})");
        int port = transport == ListenerTransport.Udp ? relay.Port : listener.Endpoint.Port;
        return template.Replace("{port}", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    /// <summary>A file name for the row: turn-udp, turn-tcp, turns-tcp.</summary>
    public static string Slug(string template)
    {
        string scheme = template[..template.IndexOf(':', StringComparison.Ordinal)];
        string transport = template.Contains("transport=tcp", StringComparison.OrdinalIgnoreCase) ? "tcp" : "udp";
        return $"{scheme}-{transport}";
    }
}
