namespace EdgeRelay.Stun;

/// <summary>STUN methods (RFC 8489 §18.2) and the TURN methods of RFC 8656 §17.</summary>
public enum StunMethod : ushort
{
    Binding = 0x001,
    Allocate = 0x003,
    Refresh = 0x004,
    Send = 0x006,
    Data = 0x007,
    CreatePermission = 0x008,
    ChannelBind = 0x009,
}
