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

    /// <summary>
    /// Null when the relay is healthy (it has reached the cloud, a self-probe of a relay passes); else why not.
    /// <paramref name="excused"/>: status reason codes the previous release had at the switch (D2: the cloud was out of reach then too).
    /// </summary>
    Task<string?> CheckHealthAsync(IReadOnlyCollection<string> excused, CancellationToken cancellationToken);

    /// <summary>Why a new release could not prove itself on this box whatever it did (no credential to probe the relay with); null: it could.</summary>
    string? CannotProve();

    /// <summary>Whether the binary at <paramref name="path"/> runs on this box (<c>--version</c> answers); null: it does, else why not.</summary>
    Task<string?> TryRunAsync(string path, CancellationToken cancellationToken);
}
