using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Fuzz.Harness;

/// <summary>
/// Stands in for the relay sockets. Binding a port that is still open is a bug in the core's port
/// accounting, so it fails the run; every third port from <see cref="BusyPortModulus"/> refuses, as a
/// port taken by another program would, so that the core's retry path runs too.
/// </summary>
public sealed class FuzzRelayBinder : IRelayBinder
{
    private const int BusyPortModulus = 7;
    private readonly Dictionary<TransportAddress, Endpoint> _open = [];

    public int OpenCount => _open.Count;

    public bool TryBind(in TransportAddress address, bool dontFragment, out IRelayEndpoint? endpoint)
    {
        if (address.Port % BusyPortModulus == 0)
        {
            endpoint = null;
            return false;
        }
        FuzzInvariantException.Check(!_open.ContainsKey(address), $"relay address {address} bound while still open");
        var bound = new Endpoint(this, address);
        _open.Add(address, bound);
        endpoint = bound;
        return true;
    }

    private sealed class Endpoint(FuzzRelayBinder binder, TransportAddress address) : IRelayEndpoint
    {
        private bool _disposed;

        public TransportAddress Address { get; } = address;

        public Allocation? Allocation { get; set; }

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                binder._open.Remove(Address);
            }
        }
    }
}
