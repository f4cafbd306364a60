namespace EdgeRelay.Appliance.Status;

/// <summary>The box's state as a technician or an admin needs it, from best to worst.</summary>
public enum Health
{
    /// <summary>Starting up, or applying a new configuration.</summary>
    Starting,

    /// <summary>Ready, nothing relayed in the last few seconds.</summary>
    HealthyIdle,

    /// <summary>Ready and relaying.</summary>
    Relaying,

    /// <summary>Relaying or ready to, with at least one reason that needs attention.</summary>
    Degraded,

    /// <summary>Cannot do its job; the reasons say why.</summary>
    Fault,
}

/// <summary>One verdict of the status model: what the LEDs, the page, /api/status and systemd's STATUS= show.</summary>
public sealed record ApplianceStatus(Health Health, IReadOnlyList<StatusReason> Reasons, LedSignal Led, DateTimeOffset Since)
{
    public string Summary => Reasons.Count == 0
        ? Health switch
        {
            Health.Starting => "starting",
            Health.Relaying => "healthy, relaying",
            _ => "healthy, idle",
        }
        : $"{Health.ToString().ToLowerInvariant()}: {string.Join("; ", Reasons.Select(r => r.Code))}";
}
