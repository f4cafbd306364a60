using System.Net;
using EdgeRelay.Net.Linux;
using EdgeRelay.Net.Udp;
using EdgeRelay.Turn;

namespace EdgeRelay.Net;

/// <summary>
/// NAT behaviour discovery (RFC 5780) on real sockets: the three alternate endpoints next to the primary UDP
/// listener, and the groups that let an answer leave from the endpoint the core names.
/// </summary>
public sealed partial class RelayEngine
{
    /// <summary>
    /// The UDP listeners of the alternate port, the alternate address, and both (roles 1, 2 and 3); empty
    /// without NAT behaviour discovery or with one address. They are not configured listeners: they serve
    /// STUN Binding only (the core refuses every other request there with 400, and nothing is relayed).
    /// </summary>
    private RunningListener[] _natDiscovery = [];

    /// <summary>NAT behaviour discovery as the engine started it; the core keeps it too (<see cref="TurnServer.Reconfigure"/>).</summary>
    private NatBehaviorDiscoveryOptions? _startedNatDiscovery;

    /// <summary>The primary listener of <see cref="_natDiscovery"/>, while it runs.</summary>
    private RunningListener? _natDiscoveryPrimary;

    /// <summary>The UDP endpoints NAT behaviour discovery runs on besides the configured listeners (the alternate ones).</summary>
    public IReadOnlyList<IPEndPoint> NatDiscoveryEndPoints => _natDiscovery.Select(l => l.LocalEndPoint).ToList();

    /// <summary>
    /// Binds the alternate endpoints (RFC 5780 §6.1: the alternate port on the primary address, the alternate
    /// address on both ports) the way the engine binds a UDP listener, and links each loop's four sockets (or
    /// the portable listeners) into a group indexed by role. A failure throws <see cref="ListenerBindException"/>;
    /// the caller closes what was bound.
    /// </summary>
    private RunningListener[] BindNatDiscovery(NatBehaviorDiscoveryOptions discovery, List<RunningListener> bound)
    {
        RunningListener primary = bound.FirstOrDefault(l => l.Protocol == TransportProtocol.Udp && l.LocalEndPoint.Equals(discovery.Primary))
            ?? throw new ListenerBindException($"natDiscovery: no udp listener on {discovery.Primary}, RFC 5780's primary address and port");
        _natDiscoveryPrimary = primary;
        _startedNatDiscovery = discovery;
        var group = new RunningListener[discovery.EndpointCount];
        group[0] = primary;
        var alternates = new List<RunningListener>();
        try
        {
            for (int role = 1; role < group.Length; role++)
            {
                group[role] = Bind(ListenerOptions.Udp(discovery.EndpointOf(role)));
                alternates.Add(group[role]);
            }
        }
        catch
        {
            alternates.ForEach(l => l.Close());
            throw;
        }
        if (primary.Batched is not null)
        {
            for (int loop = 0; loop < primary.Batched.Length; loop++)
            {
                BatchedUdpListener[] sockets = group.Select(l => l.Batched![loop]).ToArray();
                for (int role = 0; role < sockets.Length; role++)
                {
                    sockets[role].NatRole = role;
                    sockets[role].NatGroup = sockets;
                }
            }
        }
        else
        {
            UdpListener[] listeners = group.Select(l => l.Udp!).ToArray();
            for (int role = 0; role < listeners.Length; role++)
            {
                listeners[role].NatRole = role;
                listeners[role].NatGroup = listeners;
            }
        }
        return [.. alternates];
    }

    private void LogNatDiscovery()
    {
        if (Server.Options.NatBehaviorDiscovery is not { } discovery)
        {
            return;
        }
        if (discovery.HasAlternate)
        {
            NetLog.NatDiscoveryFull(Logger, discovery.EndpointOf(0).ToString(), discovery.EndpointOf(1).ToString(),
                discovery.EndpointOf(2).ToString(), discovery.EndpointOf(3).ToString());
        }
        else
        {
            NetLog.NatDiscoveryPartial(Logger, discovery.Primary.ToString());
        }
    }

    /// <summary>
    /// Called by a reconfiguration under the listeners' lock: NAT behaviour discovery keeps the endpoints it
    /// started with (a change is logged and waits for a restart), and stops, its alternate sockets closed,
    /// when its primary listener is taken out, since the groups would name a closed socket.
    /// </summary>
    private void ReconfigureNatDiscovery(TurnServerOptions options, IEnumerable<RunningListener> removed)
    {
        if (!Equals(options.NatBehaviorDiscovery, _startedNatDiscovery))
        {
            NetLog.NatDiscoveryChangeNeedsRestart(Logger);
        }
        if (_natDiscoveryPrimary is { } primary && removed.Contains(primary))
        {
            lock (Gate)
            {
                // Before the sockets go: an answer must never name an endpoint that is closed, even when the
                // primary's address comes back in a later configuration without the alternates.
                Server.StopNatBehaviorDiscovery();
            }
            foreach (RunningListener alternate in _natDiscovery)
            {
                Remove(alternate);
            }
            _natDiscovery = [];
            _natDiscoveryPrimary = null;
            NetLog.NatDiscoveryStopped(Logger, primary.LocalEndPoint.ToString());
        }
    }
}
