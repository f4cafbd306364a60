namespace EdgeRelay.Appliance.Systemd;

/// <summary>
/// What the watchdog reads from the relay. An interface so that the watchdog's rules can be tested
/// with counters a test moves by hand; <see cref="RelayEngineProgress"/> reads the real engine.
/// </summary>
public interface IRelayProgress
{
    /// <summary>One counter per part that must keep moving (see RelayEngine.ProgressSnapshot).</summary>
    long[] ProgressSnapshot();

    /// <summary>What the relay is doing now, for the one-line STATUS= that <c>systemctl status</c> shows.</summary>
    RelayActivity Activity();
}
