using System.Text;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Updates;

/// <summary>
/// What systemd does for edgerelay.service here, where there is no systemd to run it (image/systemd/edgerelay.service):
/// starts the packaged binary, and whenever it ends (Restart=always; status 75 is a switch or a rollback)
/// starts it again after a short pause (RestartSec=). Every start's output is kept, with its exit status.
/// </summary>
internal sealed class ServiceSupervisor : IDisposable
{
    private readonly string _binary;
    private readonly string[] _arguments;
    private readonly Lock _gate = new();
    private readonly List<string> _runs = [];
    private readonly List<int> _exits = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private ExternalProcess? _current;

    public ServiceSupervisor(string binary, params string[] arguments)
    {
        _binary = binary;
        _arguments = arguments;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>How many times the binary was started.</summary>
    public int Starts
    {
        get
        {
            lock (_gate)
            {
                return _runs.Count + (_current is null ? 0 : 1);
            }
        }
    }

    public IReadOnlyList<int> Exits
    {
        get
        {
            lock (_gate)
            {
                return [.. _exits];
            }
        }
    }

    /// <summary>Every start's output, the running one's last.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                var text = new StringBuilder();
                for (int i = 0; i < _runs.Count; i++)
                {
                    text.Append("--- start ").Append(i + 1).Append(", exit ").Append(_exits[i]).AppendLine(":").Append(_runs[i]);
                }
                if (_current is not null)
                {
                    text.Append("--- start ").Append(_runs.Count + 1).AppendLine(", running:").Append(_current.Output);
                }
                return text.ToString();
            }
        }
    }

    /// <summary>The power cut: SIGKILL to the running process (it is started again, as systemd would at the next boot).</summary>
    public void KillRunning()
    {
        lock (_gate)
        {
            _current?.Kill();
        }
    }

    private async Task LoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            ExternalProcess process = ExternalProcess.Start(_binary, _arguments);
            lock (_gate)
            {
                _current = process;
            }
            while (!process.WaitForExit(TimeSpan.FromMilliseconds(100)))
            {
                if (_stopping.IsCancellationRequested)
                {
                    process.Kill();
                }
            }
            lock (_gate)
            {
                _runs.Add(process.Output);
                _exits.Add(process.ExitCode);
                _current = null;
            }
            process.Dispose();
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(300), _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        KillRunning();
        _loop.Wait(TimeSpan.FromSeconds(30));
        _stopping.Dispose();
    }
}
