using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Benchmarks.Turn;

/// <summary>Stands in for the socket layer: every port binds, and an endpoint is only a place to hang the allocation.</summary>
public sealed class NullRelayBinder : IRelayBinder
{
    public bool TryBind(in TransportAddress address, bool dontFragment, out IRelayEndpoint? endpoint)
    {
        endpoint = new NullRelayEndpoint();
        return true;
    }

    private sealed class NullRelayEndpoint : IRelayEndpoint
    {
        public Allocation? Allocation { get; set; }

        public void Dispose()
        {
        }
    }
}
