using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Turn.Tests.Infrastructure;

/// <summary>A relay socket that only remembers whether it was closed.</summary>
public sealed class FakeRelayEndpoint(TransportAddress address, bool dontFragment) : IRelayEndpoint
{
    public TransportAddress Address { get; } = address;
    public bool DontFragment { get; } = dontFragment;
    public bool IsDisposed { get; private set; }
    public int DisposeCount { get; private set; }
    public Allocation? Allocation { get; set; }

    public void Dispose()
    {
        IsDisposed = true;
        DisposeCount++;
    }
}
