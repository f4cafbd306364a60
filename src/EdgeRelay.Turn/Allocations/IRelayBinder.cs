using EdgeRelay.Stun;

namespace EdgeRelay.Turn.Allocations;

/// <summary>
/// The socket layer's side of a relayed transport address. The core chooses the port from the pool;
/// the binder opens it. Injected, so the core never touches a socket (as pion/turn injects its
/// relay address generator).
/// </summary>
public interface IRelayBinder
{
    /// <summary>
    /// Opens a UDP socket on <paramref name="address"/>. False when the port is in use by something
    /// else; the core then tries another port.
    /// </summary>
    bool TryBind(in TransportAddress address, bool dontFragment, out IRelayEndpoint? endpoint);
}

/// <summary>An open relayed transport address. Disposing it closes the socket.</summary>
public interface IRelayEndpoint : IDisposable
{
    /// <summary>The allocation that datagrams arriving here belong to; null while only reserved (EVEN-PORT).</summary>
    Allocation? Allocation { get; set; }
}
