namespace EdgeRelay.Stun;

/// <summary>One attribute of a parsed message: its type, its value (without padding) and where it starts.</summary>
public readonly ref struct StunAttribute
{
    public StunAttribute(ushort type, ReadOnlySpan<byte> value, int offset)
    {
        Type = type;
        Value = value;
        Offset = offset;
    }

    public ushort Type { get; }
    public ReadOnlySpan<byte> Value { get; }

    /// <summary>Offset of the attribute header from the start of the message.</summary>
    public int Offset { get; }

    public StunAttributeType KnownType => (StunAttributeType)Type;
}
