namespace EdgeRelay.Turn.Auth;

/// <summary>
/// The wall time the relay judges TURN REST credentials by (their user name carries an expiry in Unix
/// seconds, draft-uberti-behave-turn-rest-00 §2.2), and whether it can be trusted. Only REST expiry
/// looks at it: every lifetime of the core (allocations, permissions, channels, nonces) runs on the
/// monotonic clock (<see cref="TurnClock.NowMs"/>), so that a step of the wall clock cuts nothing short
/// and keeps nothing alive.
/// </summary>
/// <param name="UtcNow">The best estimate of the time now.</param>
/// <param name="Trusted">False when whoever supplies the time doubts it (an unsynchronised clock, say).</param>
/// <param name="Source">What the estimate rests on, for the log: "system", "kernel (synchronised)", "cloud Date header", ….</param>
public readonly record struct WallTime(DateTimeOffset UtcNow, bool Trusted, string Source);

/// <summary>
/// Supplies <see cref="WallTime"/> to the core. The appliance puts its clock check here (the kernel's
/// synchronisation state, the cloud's Date header); the core itself knows nothing of either.
/// </summary>
public interface IWallClock
{
    WallTime Now { get; }
}

/// <summary>The time of a <see cref="TimeProvider"/>, taken as trusted: what the core uses when nobody injects a better clock.</summary>
public sealed class SystemWallClock(TimeProvider time) : IWallClock
{
    public WallTime Now => new(time.GetUtcNow(), Trusted: true, "system");
}
