namespace EdgeRelay.Stun;

/// <summary>Why bytes were not a STUN message. Parsing reports, never throws (RFC 8489 §6.3).</summary>
public enum StunParseError : byte
{
    None = 0,
    TooShort,
    NotStun,
    BadMagicCookie,
    BadLength,
    BadAttribute,
}
