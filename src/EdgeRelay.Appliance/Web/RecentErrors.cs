using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Web;

/// <summary>
/// Keeps the last warnings and errors of the log for the status page, so that an admin sees what went
/// wrong without a shell. Log messages never carry secrets (the relay's log lines are written to that
/// rule), so they may be shown as they are.
/// </summary>
public sealed class RecentErrors : ILoggerProvider
{
    public const int Capacity = 20;

    private readonly Queue<string> _entries = new();
    private readonly TimeProvider _time;

    public RecentErrors(TimeProvider time) => _time = time;

    public IReadOnlyList<string> Snapshot()
    {
        lock (_entries)
        {
            return _entries.Reverse().ToList();
        }
    }

    public void Add(LogLevel level, string category, string message)
    {
        string entry = $"{_time.GetUtcNow():yyyy-MM-ddTHH:mm:ssZ} {level}: {category}: {message}";
        lock (_entries)
        {
            if (_entries.Count == Capacity)
            {
                _entries.Dequeue();
            }
            _entries.Enqueue(entry);
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(RecentErrors owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner.Add(logLevel, category, formatter(state, exception));
            }
        }
    }
}
