namespace EdgeRelay.Appliance.Update;

/// <summary>What the updater asks of the running relay; the appliance knows sockets and processes, the updater does not.</summary>
public interface IUpdateHost
{
    /// <summary>Returns once the switch may happen: the window is open, and (with a drain timeout) the calls have ended or the time is up.</summary>
    Task PrepareToSwitchAsync(UpdateTarget target, Action<UpdatePhase> phase, CancellationToken cancellationToken);

    /// <summary>Gives up draining (the target changed, or the switch failed).</summary>
    void CancelDrain();

    /// <summary>Stops this process so that the service manager starts it again, and the slot selector with it.</summary>
    void Restart(string reason);

    /// <summary>Null when the relay is healthy (listeners bound, a self-probe of a relay passes); else why not.</summary>
    Task<string?> CheckHealthAsync(CancellationToken cancellationToken);

    /// <summary>Whether the binary at <paramref name="path"/> runs on this box (<c>--version</c> answers); null: it does, else why not.</summary>
    Task<string?> TryRunAsync(string path, CancellationToken cancellationToken);
}
