namespace EdgeRelay.Appliance.Systemd;

/// <param name="Allocations">TURN allocations alive now.</param>
/// <param name="StreamConnections">TCP and TLS client connections open now.</param>
/// <param name="Datagrams">UDP datagrams read since start (a running total: the rate comes from two readings).</param>
/// <param name="Draining">New allocations are sent elsewhere; the ones counted here go on.</param>
public readonly record struct RelayActivity(int Allocations, int StreamConnections, long Datagrams, bool Draining = false);
