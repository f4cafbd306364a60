namespace EdgeRelay.Stun;

/// <summary>PASSWORD-ALGORITHM values, RFC 8489 §18.5.</summary>
public enum PasswordAlgorithm : ushort
{
    Md5 = 0x0001,
    Sha256 = 0x0002,
}
