using EdgeRelay.Fuzz.Targets;

namespace EdgeRelay.Fuzz;

public delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>The targets by the names scripts/fuzz.sh and the corpus folders use.</summary>
public static class FuzzTargets
{
    public static IReadOnlyDictionary<string, FuzzTarget> All { get; } = new Dictionary<string, FuzzTarget>
    {
        ["stun"] = StunTarget.Run,
        ["channeldata"] = ChannelDataTarget.Run,
        ["stream"] = StreamTarget.Run,
        ["turn"] = TurnTarget.Run,
    };
}
