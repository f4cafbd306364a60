namespace EdgeRelay.Stun;

/// <summary>The class of a STUN message, RFC 8489 §5 (bits C1 and C0 of the message type).</summary>
public enum StunClass : byte
{
    Request = 0b00,
    Indication = 0b01,
    SuccessResponse = 0b10,
    ErrorResponse = 0b11,
}
