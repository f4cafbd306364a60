using EdgeRelay.Net;
using Microsoft.Extensions.Hosting;

namespace EdgeRelay;

/// <summary>
/// Ties the relay to the host's lifetime: the engine is bound before the host starts (so a busy port
/// fails start-up with its own message), and disposed when the host stops (SIGTERM, SIGINT).
/// </summary>
internal sealed class RelayService(RelayEngine engine) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken) => await engine.DisposeAsync().ConfigureAwait(false);
}
