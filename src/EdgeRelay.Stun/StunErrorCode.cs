namespace EdgeRelay.Stun;

/// <summary>Error codes of RFC 8489 §14.8 and RFC 8656 §18, with the RFCs' reason phrases.</summary>
public static class StunErrorCode
{
    public const int TryAlternate = 300;
    public const int BadRequest = 400;
    public const int Unauthenticated = 401;
    public const int Forbidden = 403;
    public const int UnknownAttribute = 420;
    public const int AllocationMismatch = 437;
    public const int StaleNonce = 438;
    public const int AddressFamilyNotSupported = 440;
    public const int WrongCredentials = 441;
    public const int UnsupportedTransportProtocol = 442;
    public const int PeerAddressFamilyMismatch = 443;
    public const int AllocationQuotaReached = 486;
    public const int ServerError = 500;
    public const int InsufficientCapacity = 508;

    public static string GetReasonPhrase(int code) => code switch
    {
        TryAlternate => "Try Alternate",
        BadRequest => "Bad Request",
        Unauthenticated => "Unauthenticated",
        Forbidden => "Forbidden",
        UnknownAttribute => "Unknown Attribute",
        AllocationMismatch => "Allocation Mismatch",
        StaleNonce => "Stale Nonce",
        AddressFamilyNotSupported => "Address Family not Supported",
        WrongCredentials => "Wrong Credentials",
        UnsupportedTransportProtocol => "Unsupported Transport Protocol",
        PeerAddressFamilyMismatch => "Peer Address Family Mismatch",
        AllocationQuotaReached => "Allocation Quota Reached",
        ServerError => "Server Error",
        InsufficientCapacity => "Insufficient Capacity",
        _ => "Error",
    };
}
