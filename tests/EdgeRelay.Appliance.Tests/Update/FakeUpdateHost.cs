using System.Collections.Concurrent;
using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// The relay as the updater sees it, scripted: what a health check answers, whether a downloaded binary
/// "runs", what happens while the switch is prepared; and a record of every call, in order.
/// </summary>
internal sealed class FakeUpdateHost : IUpdateHost
{
    private readonly ConcurrentQueue<string> _calls = new();
    private readonly ConcurrentQueue<string> _restarts = new();
    private readonly TaskCompletionSource<string> _restarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _cancelDrains;
    private int _healthChecks;

    /// <summary>The health check's answer, by how many checks came before (0 for the first): null is healthy.</summary>
    public Func<int, string?> Health { get; set; } = _ => "the relay is not ready: no listener is bound";

    /// <summary>Why a new release could not prove itself here: null (the default) when it could.</summary>
    public string? Unprovable { get; set; }

    /// <summary>What the last health check was told to excuse.</summary>
    public IReadOnlyCollection<string>? LastExcused { get; private set; }

    /// <summary>Whether the binary at the path runs: null when it does. Runs at the time the updater asks.</summary>
    public Func<string, string?> Run { get; set; } = _ => null;

    /// <summary>What preparing the switch does: by default nothing (no window, no drain).</summary>
    public Func<UpdateTarget, Action<UpdatePhase>, CancellationToken, Task> Prepare { get; set; } = (_, _, _) => Task.CompletedTask;

    /// <summary>Every call, in order: "prepare VERSION", "cancel-drain", "restart REASON", "try-run PATH", "health".</summary>
    public IReadOnlyList<string> Calls => [.. _calls];

    public IReadOnlyList<string> Restarts => [.. _restarts];

    public int CancelDrains => Volatile.Read(ref _cancelDrains);

    public int HealthChecks => Volatile.Read(ref _healthChecks);

    /// <summary>The bytes of each binary the updater asked to run, as they were when it asked.</summary>
    public ConcurrentQueue<byte[]> RunBinaries { get; } = new();

    /// <summary>Completes with the reason of the first restart.</summary>
    public Task<string> Restarted => _restarted.Task;

    public Task PrepareToSwitchAsync(UpdateTarget target, Action<UpdatePhase> phase, CancellationToken cancellationToken)
    {
        _calls.Enqueue("prepare " + target.Version);
        return Prepare(target, phase, cancellationToken);
    }

    public void CancelDrain()
    {
        _calls.Enqueue("cancel-drain");
        Interlocked.Increment(ref _cancelDrains);
    }

    public void Restart(string reason)
    {
        _calls.Enqueue("restart " + reason);
        _restarts.Enqueue(reason);
        _restarted.TrySetResult(reason);
    }

    public string? CannotProve() => Unprovable;

    public Task<string?> CheckHealthAsync(IReadOnlyCollection<string> excused, CancellationToken cancellationToken)
    {
        LastExcused = excused;
        _calls.Enqueue("health");
        int before = Interlocked.Increment(ref _healthChecks) - 1;
        return Task.FromResult(Health(before));
    }

    public Task<string?> TryRunAsync(string path, CancellationToken cancellationToken)
    {
        _calls.Enqueue("try-run " + path);
        RunBinaries.Enqueue(File.ReadAllBytes(path));
        return Task.FromResult(Run(path));
    }
}
