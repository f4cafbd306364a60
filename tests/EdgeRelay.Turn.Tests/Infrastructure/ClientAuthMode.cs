namespace EdgeRelay.Turn.Tests.Infrastructure;

/// <summary>How a <see cref="TurnTestClient"/> authenticates after the 401 challenge.</summary>
public enum ClientAuthMode
{
    /// <summary>RFC 5389 style: no PASSWORD-ALGORITHM(S), MESSAGE-INTEGRITY with the MD5 key.</summary>
    Md5,

    /// <summary>RFC 8489: PASSWORD-ALGORITHMS copied, PASSWORD-ALGORITHM SHA-256, MESSAGE-INTEGRITY-SHA256.</summary>
    Sha256,

    /// <summary>As <see cref="Md5"/>, with USERHASH in place of USERNAME.</summary>
    Md5Userhash,
}
