namespace EdgeRelay.Turn.Policy;

/// <summary>What a permission for an IP address allows beyond the address itself; see <see cref="PeerAddressPolicy.GetPortRestriction"/>.</summary>
public enum PortRestriction : byte
{
    /// <summary>Any port: an ordinary address on the internet (or in an allowed network).</summary>
    None,

    /// <summary>Any port but the relay's own listeners and status page: loopback or this host's addresses.</summary>
    NotOwnServices,

    /// <summary>Only ports of the relay range: the relay's own relayed address, reached by a client of this relay.</summary>
    RelayPortsOnly,
}
