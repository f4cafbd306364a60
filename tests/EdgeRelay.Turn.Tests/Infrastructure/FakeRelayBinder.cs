using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Turn.Tests.Infrastructure;

/// <summary>Stands in for the socket layer: records every bind and disposal; ports in <see cref="BusyPorts"/> refuse to bind.</summary>
public sealed class FakeRelayBinder : IRelayBinder
{
    public HashSet<int> BusyPorts { get; } = [];
    public List<FakeRelayEndpoint> Endpoints { get; } = [];
    public List<int> RefusedPorts { get; } = [];

    public IEnumerable<FakeRelayEndpoint> Open => Endpoints.Where(e => !e.IsDisposed);

    public bool TryBind(in TransportAddress address, bool dontFragment, out IRelayEndpoint? endpoint)
    {
        if (BusyPorts.Contains(address.Port))
        {
            RefusedPorts.Add(address.Port);
            endpoint = null;
            return false;
        }
        ushort port = address.Port;
        if (Open.Any(e => e.Address.Port == port))
        {
            throw new InvalidOperationException($"port {port} bound twice");
        }
        var fake = new FakeRelayEndpoint(address, dontFragment);
        Endpoints.Add(fake);
        endpoint = fake;
        return true;
    }

    public FakeRelayEndpoint EndpointOn(int port) => Endpoints.Last(e => e.Address.Port == port);
}
