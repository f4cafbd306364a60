using EdgeRelay.Stun;

namespace EdgeRelay.Turn.Allocations;

/// <summary>
/// One relayed transport address of an allocation: what XOR-RELAYED-ADDRESS says, where the socket is
/// bound, and the socket. A dual allocation (RFC 8656 §7.2, ADDITIONAL-ADDRESS-FAMILY) has one per family.
/// </summary>
public sealed class RelayedTransport(TransportAddress relayedAddress, TransportAddress boundAddress, IRelayEndpoint endpoint)
{
    public TransportAddress RelayedAddress { get; } = relayedAddress;
    public TransportAddress BoundAddress { get; } = boundAddress;
    public IRelayEndpoint Endpoint { get; } = endpoint;
    public StunAddressFamily Family => RelayedAddress.Family;
}
