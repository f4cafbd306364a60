using EdgeRelay.Net;

namespace EdgeRelay.Appliance.Systemd;

/// <summary>The real engine as the watchdog sees it. Every read is lock-free: it must answer even when the core is stuck.</summary>
public sealed class RelayEngineProgress(RelayEngine engine) : IRelayProgress
{
    public long[] ProgressSnapshot() => engine.ProgressSnapshot();

    public RelayActivity Activity() => new(engine.Server.AllocationCount, engine.StreamConnectionCount, engine.LoopDatagrams, engine.Server.Draining);
}
