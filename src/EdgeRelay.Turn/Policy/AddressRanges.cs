using System.Net;

namespace EdgeRelay.Turn.Policy;

/// <summary>
/// The address blocks that are not globally reachable, from the IANA IPv4 and IPv6 Special-Purpose
/// Address Registries (RFC 6890 and its updates), plus multicast and broadcast. A relay that sends to
/// any of them lets a stranger on the internet reach the box's own networks (coturn CVE-2020-26262 and
/// its kin).
/// </summary>
internal static class AddressRanges
{
    public static readonly IPNetwork[] NonGlobalIPv4 =
    [
        IPNetwork.Parse("0.0.0.0/8"),          // "this network" (RFC 791)
        IPNetwork.Parse("10.0.0.0/8"),         // private (RFC 1918)
        IPNetwork.Parse("100.64.0.0/10"),      // shared address space, CGNAT (RFC 6598)
        IPNetwork.Parse("127.0.0.0/8"),        // loopback
        IPNetwork.Parse("169.254.0.0/16"),     // link-local, cloud metadata 169.254.169.254 (RFC 3927)
        IPNetwork.Parse("172.16.0.0/12"),      // private (RFC 1918)
        IPNetwork.Parse("192.0.0.0/24"),       // IETF protocol assignments (RFC 6890)
        IPNetwork.Parse("192.0.2.0/24"),       // documentation TEST-NET-1 (RFC 5737)
        IPNetwork.Parse("192.31.196.0/24"),    // AS112-v4 (RFC 7535)
        IPNetwork.Parse("192.52.193.0/24"),    // AMT (RFC 7450)
        IPNetwork.Parse("192.88.99.0/24"),     // deprecated 6to4 relay anycast (RFC 7526)
        IPNetwork.Parse("192.168.0.0/16"),     // private (RFC 1918)
        IPNetwork.Parse("192.175.48.0/24"),    // direct delegation AS112 (RFC 7534)
        IPNetwork.Parse("198.18.0.0/15"),      // benchmarking (RFC 2544)
        IPNetwork.Parse("198.51.100.0/24"),    // documentation TEST-NET-2 (RFC 5737)
        IPNetwork.Parse("203.0.113.0/24"),     // documentation TEST-NET-3 (RFC 5737)
        IPNetwork.Parse("224.0.0.0/4"),        // multicast (RFC 5771)
        IPNetwork.Parse("240.0.0.0/4"),        // reserved, includes 255.255.255.255 broadcast (RFC 1112, RFC 919)
    ];

    public static readonly IPNetwork[] NonGlobalIPv6 =
    [
        IPNetwork.Parse("::/128"),             // unspecified
        IPNetwork.Parse("::1/128"),            // loopback
        IPNetwork.Parse("100::/64"),           // discard-only (RFC 6666)
        IPNetwork.Parse("2001::/23"),          // IETF protocol assignments (RFC 2928); Teredo is judged below
        IPNetwork.Parse("2001:db8::/32"),      // documentation (RFC 3849)
        IPNetwork.Parse("3fff::/20"),          // documentation (RFC 9637)
        IPNetwork.Parse("5f00::/16"),          // SRv6 SIDs (RFC 9602)
        IPNetwork.Parse("fc00::/7"),           // unique local (RFC 4193)
        IPNetwork.Parse("fe80::/10"),          // link-local (RFC 4291)
        IPNetwork.Parse("fec0::/10"),          // deprecated site-local (RFC 3879)
        IPNetwork.Parse("ff00::/8"),           // multicast (RFC 4291)
        IPNetwork.Parse("64:ff9b:1::/48"),     // local-use IPv4/IPv6 translation (RFC 8215)
    ];

    /// <summary>Global unicast (RFC 4291 §2.4, IANA IPv6 Address Space): every other IPv6 block is refused.</summary>
    public static readonly IPNetwork GlobalUnicastIPv6 = IPNetwork.Parse("2000::/3");

    /// <summary>IPv4-compatible IPv6 addresses, ::a.b.c.d (deprecated by RFC 4291 §2.5.5.1): never routed.</summary>
    public static readonly IPNetwork IPv4Compatible = IPNetwork.Parse("::/96");

    /// <summary>The well-known NAT64 prefix (RFC 6052): the last 32 bits are an IPv4 address.</summary>
    public static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");

    /// <summary>6to4 (RFC 3056): bits 16-47 are an IPv4 address.</summary>
    public static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    /// <summary>Teredo (RFC 4380): bits 32-63 are the server's IPv4 address, the last 32 the client's, inverted.</summary>
    public static readonly IPNetwork Teredo = IPNetwork.Parse("2001::/32");

    public static bool Contains(IPNetwork[] networks, IPAddress address)
    {
        foreach (IPNetwork network in networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }
        return false;
    }
}
