using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Leds;

/// <summary>
/// Development runs: every LED change is a debug log line (the appliance logs each new LED signal, with
/// its legend, at information level).
/// </summary>
public sealed partial class ConsoleLedDriver(ILogger<ConsoleLedDriver> logger) : ILedDriver
{
    private static readonly LedRole[] s_roles = [LedRole.Green, LedRole.Amber, LedRole.Red];

    public IReadOnlyList<LedRole> Roles => s_roles;

    public void Set(LedRole role, bool on) => LogLed(logger, role, on ? "on" : "off");

    public void Dispose()
    {
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "LED {Role} {State}")]
    private static partial void LogLed(ILogger logger, LedRole role, string state);
}
