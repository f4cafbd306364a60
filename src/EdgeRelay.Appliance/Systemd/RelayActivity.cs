namespace EdgeRelay.Appliance.Systemd;

/// <param name="Allocations">TURN allocations alive now.</param>
/// <param name="StreamConnections">TCP and TLS client connections open now.</param>
/// <param name="Datagrams">UDP datagrams read since start (a running total: the rate comes from two readings).</param>
public readonly record struct RelayActivity(int Allocations, int StreamConnections, long Datagrams);
