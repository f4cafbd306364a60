namespace EdgeRelay.Stun;

/// <summary>The address family as the address attributes encode it, RFC 8489 §14.1.</summary>
public enum StunAddressFamily : byte
{
    None = 0,
    IPv4 = 0x01,
    IPv6 = 0x02,
}
