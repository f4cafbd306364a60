using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>How the probe reaches the server: the transport of a <c>turn:</c> or <c>turns:</c> URL.</summary>
public enum ProbeTransport
{
    Udp,
    Tcp,
    Tls,
}

/// <summary>
/// A TURN URL as RFC 7065 §3.1 defines it: <c>turn:host[:port][?transport=udp|tcp]</c> and
/// <c>turns:host[:port][?transport=tcp]</c>; host is an IPv4 literal, a bracketed IPv6 literal or a name.
/// Default ports are 3478 and 5349 (RFC 8656 §6.1, RFC 7065 §3.1); the default transport is UDP for
/// <c>turn:</c> and TLS over TCP for <c>turns:</c>.
/// </summary>
public sealed record TurnUrl(string Host, int Port, ProbeTransport Transport)
{
    public const int DefaultPort = 3478;
    public const int DefaultTlsPort = 5349;

    public bool IsSecure => Transport == ProbeTransport.Tls;

    public string TransportName => Transport.ToString().ToLowerInvariant();

    /// <summary>Parses a URL; false with a sentence for the operator when it is not one.</summary>
    public static bool TryParse(string text, out TurnUrl? url, out string error)
    {
        url = null;
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        string scheme = colon < 0 ? string.Empty : text[..colon].ToLowerInvariant();
        if (scheme is not ("turn" or "turns"))
        {
            error = $"\"{text}\" is not a TURN URL: expected turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT]";
            return false;
        }
        bool secure = scheme == "turns";
        string rest = text[(colon + 1)..];
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            error = $"\"{text}\": a TURN URL has no \"//\" (RFC 7065): write {scheme}:{rest[2..]}";
            return false;
        }

        ProbeTransport transport = secure ? ProbeTransport.Tls : ProbeTransport.Udp;
        int query = rest.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            string parameter = rest[(query + 1)..];
            rest = rest[..query];
            const string TransportKey = "transport=";
            if (!parameter.StartsWith(TransportKey, StringComparison.OrdinalIgnoreCase))
            {
                error = $"\"{text}\": the only query a TURN URL has is ?transport=udp or ?transport=tcp";
                return false;
            }
            switch (parameter[TransportKey.Length..].ToLowerInvariant())
            {
                case "udp" when secure:
                    error = $"\"{text}\": turns over udp would be DTLS, which this probe does not speak; use turns:…?transport=tcp";
                    return false;
                case "udp":
                    transport = ProbeTransport.Udp;
                    break;
                case "tcp":
                    transport = secure ? ProbeTransport.Tls : ProbeTransport.Tcp;
                    break;
                default:
                    error = $"\"{text}\": transport must be udp or tcp";
                    return false;
            }
        }

        string host;
        string? portText = null;
        if (rest.StartsWith('['))
        {
            // IP-literal of RFC 3986 §3.2.2: only an IPv6 address between brackets.
            int close = rest.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || !IPAddress.TryParse(rest[1..close], out IPAddress? v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = $"\"{text}\": the host between [ and ] must be an IPv6 address";
                return false;
            }
            host = rest[1..close];
            string after = rest[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    error = $"\"{text}\": expected :PORT after the IPv6 address";
                    return false;
                }
                portText = after[1..];
            }
        }
        else
        {
            int portColon = rest.LastIndexOf(':');
            if (portColon >= 0 && rest.IndexOf(':', StringComparison.Ordinal) != portColon)
            {
                error = $"\"{text}\": an IPv6 address goes between brackets, e.g. {scheme}:[2001:db8::1]:3478";
                return false;
            }
            host = portColon < 0 ? rest : rest[..portColon];
            portText = portColon < 0 ? null : rest[(portColon + 1)..];
            if (host.Length == 0 || host.Length > 253 || host.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')))
            {
                error = $"\"{text}\": \"{host}\" is not a host name or an IPv4 address";
                return false;
            }
        }

        int port = secure ? DefaultTlsPort : DefaultPort;
        if (portText is not null
            && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            error = $"\"{text}\": the port must be a number from 1 to 65535";
            return false;
        }
        url = new TurnUrl(host, port, transport);
        error = string.Empty;
        return true;
    }

    /// <summary>The canonical spelling, with port and transport always written out.</summary>
    public override string ToString()
    {
        string host = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
        return Transport switch
        {
            ProbeTransport.Udp => $"turn:{host}:{Port}?transport=udp",
            ProbeTransport.Tcp => $"turn:{host}:{Port}?transport=tcp",
            _ => $"turns:{host}:{Port}?transport=tcp",
        };
    }
}
