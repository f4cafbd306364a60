using Microsoft.Extensions.Hosting.Systemd;

namespace EdgeRelay.Appliance.Tests.Systemd;

/// <summary>Keeps every sd_notify message, split into its assignments (sd_notify(3): one per line).</summary>
internal sealed class RecordingNotifier : ISystemdNotifier
{
    private readonly List<string[]> _messages = [];

    public bool IsEnabled => true;

    public void Notify(ServiceState state)
    {
        lock (_messages)
        {
            _messages.Add(state.ToString().Split('\n'));
        }
    }

    public int Count(string assignment)
    {
        lock (_messages)
        {
            return _messages.Count(m => m.Contains(assignment));
        }
    }

    public string? LastStatus()
    {
        lock (_messages)
        {
            return _messages.SelectMany(m => m).LastOrDefault(a => a.StartsWith("STATUS=", StringComparison.Ordinal));
        }
    }
}
