namespace EdgeRelay.Stun;

/// <summary>
/// Attribute types, RFC 8489 §18.3, RFC 8656 §18 and RFC 5780 §7. Types 0x0000-0x7FFF are comprehension-required,
/// 0x8000-0xFFFF comprehension-optional (RFC 8489 §14).
/// </summary>
public enum StunAttributeType : ushort
{
    MappedAddress = 0x0001,

    /// <summary>RFC 5780 §7.2: asks the server to answer from its other address and/or port.</summary>
    ChangeRequest = 0x0003,
    Username = 0x0006,
    MessageIntegrity = 0x0008,
    ErrorCode = 0x0009,
    UnknownAttributes = 0x000A,
    ChannelNumber = 0x000C,
    Lifetime = 0x000D,
    XorPeerAddress = 0x0012,
    Data = 0x0013,
    Realm = 0x0014,
    Nonce = 0x0015,
    XorRelayedAddress = 0x0016,
    RequestedAddressFamily = 0x0017,
    EvenPort = 0x0018,
    RequestedTransport = 0x0019,
    DontFragment = 0x001A,
    MessageIntegritySha256 = 0x001C,
    PasswordAlgorithm = 0x001D,
    Userhash = 0x001E,
    XorMappedAddress = 0x0020,
    ReservationToken = 0x0022,

    /// <summary>RFC 5780 §7.6: makes a message large enough to be fragmented.</summary>
    Padding = 0x0026,

    /// <summary>RFC 5780 §7.5: the port of the client's address that the response goes to.</summary>
    ResponsePort = 0x0027,

    PasswordAlgorithms = 0x8002,
    AlternateDomain = 0x8003,
    Software = 0x8022,
    AlternateServer = 0x8023,
    Fingerprint = 0x8028,
    AdditionalAddressFamily = 0x8000,
    AddressErrorCode = 0x8001,
    Icmp = 0x8004,

    /// <summary>RFC 5780 §7.3: the transport address the response was sent from.</summary>
    ResponseOrigin = 0x802B,

    /// <summary>RFC 5780 §7.4: the server's transport address for "change IP" and "change port" together.</summary>
    OtherAddress = 0x802C,

    /// <summary>
    /// ADDITIONAL-ADDRESS-FAMILY and ADDRESS-ERROR-CODE as the dual-allocation draft numbered them
    /// (draft-ietf-tram-turn-ipv6, "SSODA"), before RFC 8656 assigned 0x8000 and 0x8001. coturn's clients
    /// still send these.
    /// </summary>
    AdditionalAddressFamilyDraft = 0x8032,
    AddressErrorCodeDraft = 0x8033,
}

public static class StunAttributeTypes
{
    /// <summary>RFC 8489 §14: types below 0x8000 must be understood by the receiver.</summary>
    public static bool IsComprehensionRequired(ushort type) => type < 0x8000;

    /// <summary>
    /// The comprehension-required attributes this server understands (RFC 8489 §7.3.1). The three of
    /// RFC 5780 (<see cref="IsNatBehaviorDiscovery"/>) are not among them: a server that does not do NAT
    /// behaviour discovery answers them with 420, which is how a client learns that (RFC 5780 §6).
    /// </summary>
    public static bool IsKnownComprehensionRequired(ushort type) => (StunAttributeType)type switch
    {
        StunAttributeType.MappedAddress or StunAttributeType.Username or StunAttributeType.MessageIntegrity
            or StunAttributeType.ErrorCode or StunAttributeType.UnknownAttributes or StunAttributeType.ChannelNumber
            or StunAttributeType.Lifetime or StunAttributeType.XorPeerAddress or StunAttributeType.Data
            or StunAttributeType.Realm or StunAttributeType.Nonce or StunAttributeType.XorRelayedAddress
            or StunAttributeType.RequestedAddressFamily or StunAttributeType.EvenPort
            or StunAttributeType.RequestedTransport or StunAttributeType.DontFragment
            or StunAttributeType.MessageIntegritySha256 or StunAttributeType.PasswordAlgorithm
            or StunAttributeType.Userhash or StunAttributeType.XorMappedAddress
            or StunAttributeType.ReservationToken => true,
        _ => false,
    };

    /// <summary>CHANGE-REQUEST, PADDING and RESPONSE-PORT: comprehension-required, understood only where RFC 5780 is served.</summary>
    public static bool IsNatBehaviorDiscovery(ushort type) => (StunAttributeType)type is
        StunAttributeType.ChangeRequest or StunAttributeType.Padding or StunAttributeType.ResponsePort;
}
