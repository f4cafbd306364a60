namespace EdgeRelay.Stun;

public static class StunConstants
{
    /// <summary>RFC 8489 §5.</summary>
    public const uint MagicCookie = 0x2112A442;

    public const int HeaderLength = 20;
    public const int TransactionIdLength = 12;
    public const int AttributeHeaderLength = 4;

    public const int MessageIntegrityLength = 20;
    public const int MessageIntegritySha256Length = 32;
    public const int FingerprintLength = 4;

    /// <summary>RFC 8489 §14.7: CRC-32 of the message XOR-ed with 0x5354554e ("STUN").</summary>
    public const uint FingerprintXor = 0x5354554E;

    /// <summary>RFC 8489 §14.9 and §14.10: REALM and NONCE are less than 128 characters (763 bytes).</summary>
    public const int MaxRealmOrNonceLength = 763;

    /// <summary>RFC 8489 §14.4: USERHASH is 32 bytes (SHA-256).</summary>
    public const int UserhashLength = 32;
}
