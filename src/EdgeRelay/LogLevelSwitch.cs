using Microsoft.Extensions.Logging;

namespace EdgeRelay;

/// <summary>The minimum log level of the running process, which an applied configuration (<c>logLevel</c>) may change.</summary>
internal sealed class LogLevelSwitch(LogLevel level)
{
    private volatile int _level = (int)level;

    public LogLevel Level
    {
        get => (LogLevel)_level;
        set => _level = (int)value;
    }

    public bool IsEnabled(LogLevel level) => level >= Level;
}
