namespace EdgeRelay.Benchmarks.Turn;

/// <summary>
/// The system's monotonic clock, which the core reads on every relayed packet in production too (so its
/// cost is part of what is measured), with the wall clock pinned to <see cref="StunSamples.Now"/> so that
/// the samples' TURN REST user name is valid whenever the benchmarks run.
/// </summary>
public sealed class PinnedWallClock : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => StunSamples.Now;
}
