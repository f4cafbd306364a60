using System.Globalization;
using System.Net;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>A STUN server to test against: <c>HOST[:PORT]</c>, <c>[IPv6][:PORT]</c>; port 3478 when absent.</summary>
public sealed record StunServerAddress(string Host, int Port)
{
    public const int DefaultPort = 3478;

    public static bool TryParse(string text, out StunServerAddress? server, out string error)
    {
        server = null;
        error = string.Empty;
        string host = text.Trim();
        string? port = null;
        if (host.StartsWith('['))
        {
            int close = host.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < host.Length && host[close + 1] != ':'))
            {
                error = $"\"{text}\": write an IPv6 address as [2001:db8::1]:3478";
                return false;
            }
            port = close + 1 < host.Length ? host[(close + 2)..] : null;
            host = host[1..close];
            if (!IPAddress.TryParse(host, out _))
            {
                error = $"\"{text}\": \"{host}\" is not an IPv6 address";
                return false;
            }
        }
        else if (host.Count(c => c == ':') == 1)
        {
            int colon = host.IndexOf(':', StringComparison.Ordinal);
            port = host[(colon + 1)..];
            host = host[..colon];
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            error = $"\"{text}\": write an IPv6 address between brackets, e.g. [2001:db8::1]:3478";
            return false;
        }
        if (host.Length == 0)
        {
            error = $"\"{text}\": a host name or address is needed, e.g. stun.example.com:3478";
            return false;
        }
        int number = DefaultPort;
        if (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number is < 1 or > 65535))
        {
            error = $"\"{text}\": the port \"{port}\" is not a number from 1 to 65535";
            return false;
        }
        server = new StunServerAddress(host, number);
        return true;
    }

    public override string ToString() =>
        (Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host) + ":" + Port.ToString(CultureInfo.InvariantCulture);
}

/// <summary>What <see cref="NatBehaviorProbe"/> tests against, and how long it waits.</summary>
public sealed record NatBehaviorOptions
{
    /// <summary>
    /// The first server runs every test it can (all of them when it is an RFC 5780 server with two
    /// addresses); a second one lets the mapping test compare two servers when the first sends no OTHER-ADDRESS.
    /// </summary>
    public required IReadOnlyList<StunServerAddress> Servers { get; init; }

    /// <summary>
    /// How long one test waits for its answer, retransmissions included. A filtering test that gets no
    /// answer is a result (RFC 5780 §4.4), so this bounds how long a run takes behind a filtering NAT.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The address family every server must have (a name resolves to that family only); null: the first
    /// server's, IPv4 first. The self-check judges IPv4 relayed addresses, so it asks IPv4.
    /// </summary>
    public System.Net.Sockets.AddressFamily? Family { get; init; }

    /// <summary>
    /// The local address every test port is bound to; null binds the unspecified address (the kernel's route
    /// picks the source). The box's self-check binds the relay's address, so its datagrams leave the way
    /// relayed ones do.
    /// </summary>
    public IPAddress? LocalAddress { get; init; }

    /// <summary>
    /// Local ports to take the test ports from, when free; null lets the kernel pick. The self-check takes
    /// them from the relay's port range: a NAT may treat that range (forwarded, or mapped 1:1) unlike the
    /// kernel's ephemeral ports, and what matters is how it treats relayed addresses.
    /// </summary>
    public (int Min, int Max)? LocalPorts { get; init; }

    /// <summary>RFC 5780 §4.6: measure the binding lifetime up to this long; null leaves it out (it is slow by nature).</summary>
    public TimeSpan? LifetimeMax { get; init; }
}
