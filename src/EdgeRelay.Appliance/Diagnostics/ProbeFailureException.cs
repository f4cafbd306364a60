namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>Ends a probe step with the sentence the operator reads; never leaves <see cref="TurnProbe"/>.</summary>
internal sealed class ProbeFailureException(string detail) : Exception(detail)
{
    public string Detail { get; } = detail;
}
