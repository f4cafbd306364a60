namespace EdgeRelay.Appliance.Clock;

/// <summary>What the kernel (or the NTP client's flag) says about the system clock.</summary>
public enum ClockSynchronisation
{
    /// <summary>An NTP client disciplines the clock: the kernel's STA_UNSYNC is clear.</summary>
    Synchronised,

    /// <summary>No NTP client has set the clock (STA_UNSYNC set): after a power cut, a Pi runs on the time it last saved.</summary>
    Unsynchronised,

    /// <summary>The state could not be read (<see cref="KernelClockReading.Problem"/> says why).</summary>
    Unknown,
}

/// <summary>One reading of the clock's synchronisation state.</summary>
/// <param name="MaxErrorSeconds">The kernel's maximum error estimate (struct timex maxerror), when the kernel was asked.</param>
/// <param name="Source">Where the reading comes from: "adjtimex" or "systemd-timesyncd".</param>
/// <param name="Problem">For <see cref="ClockSynchronisation.Unknown"/>: why the state could not be read.</param>
public sealed record KernelClockReading(ClockSynchronisation State, double? MaxErrorSeconds, string Source, string? Problem = null);

/// <summary>Reads the clock's synchronisation state; the appliance polls it, tests inject a fake.</summary>
public interface IClockStateSource
{
    /// <summary>Never throws: a failure is a reading of <see cref="ClockSynchronisation.Unknown"/> that says why.</summary>
    KernelClockReading Read();
}
