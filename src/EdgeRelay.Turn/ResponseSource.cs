namespace EdgeRelay.Turn;

/// <summary>
/// Which local endpoint a response to a client leaves from, relative to the one the request came in on:
/// the flags of RFC 5780 §7.2's CHANGE-REQUEST. Anything but <see cref="Received"/> happens only with NAT
/// behaviour discovery (<see cref="NatBehaviorDiscoveryOptions"/>); the socket layer maps it to one of its
/// sockets, so the core never sees one.
/// </summary>
[Flags]
public enum ResponseSource : byte
{
    /// <summary>The endpoint the request came in on: every response but those RFC 5780 redirects.</summary>
    Received = 0,

    /// <summary>The same address, the other port.</summary>
    ChangedPort = 1,

    /// <summary>The other address, the same port.</summary>
    ChangedAddress = 2,

    ChangedAddressAndPort = ChangedPort | ChangedAddress,
}
