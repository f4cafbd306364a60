using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>An error response in words an operator can act on: the code, the RFC's reason phrase, and what it means here.</summary>
internal static class StunErrors
{
    public static string Describe(StunMethod method, StunAnswer answer, bool signed)
    {
        int code = answer.ErrorCode;
        string phrase = StunErrorCode.GetReasonPhrase(code);
        string meaning = code switch
        {
            StunErrorCode.TryAlternate => answer.AlternateServer is { } other ? $"the server sends clients to {other}" : "the server sends clients elsewhere",
            StunErrorCode.BadRequest => "the server could not read the request",
            StunErrorCode.Unauthenticated when signed => "wrong user name or password",
            StunErrorCode.Unauthenticated => "the server asked for credentials again",
            StunErrorCode.Forbidden when method is StunMethod.CreatePermission or StunMethod.ChannelBind => "the relay refused the peer address",
            StunErrorCode.Forbidden => "the relay refused this request",
            StunErrorCode.UnknownAttribute => "the server does not understand an attribute the probe sent",
            StunErrorCode.AllocationMismatch => "the server has no allocation for this client, or already had one",
            StunErrorCode.StaleNonce => "the server kept calling the nonce stale",
            StunErrorCode.AddressFamilyNotSupported => "the server cannot relay in this address family",
            StunErrorCode.WrongCredentials => "the credentials differ from those that made the allocation",
            StunErrorCode.UnsupportedTransportProtocol => "the server does not relay UDP",
            StunErrorCode.PeerAddressFamilyMismatch => "the peer's address family differs from the relayed address's",
            StunErrorCode.AllocationQuotaReached => "this user has as many allocations as the server allows",
            StunErrorCode.ServerError => "the server failed",
            StunErrorCode.InsufficientCapacity => "the relay has no room for another allocation, permission or channel",
            _ => "unexpected error",
        };
        // The server's own reason phrase is shown when it says something the RFC's phrase does not.
        string server = !string.IsNullOrEmpty(answer.ReasonText) && !answer.ReasonText.Equals(phrase, StringComparison.OrdinalIgnoreCase)
            ? $" (server: \"{answer.ReasonText}\")"
            : string.Empty;
        return $"{code} {phrase}: {meaning}{server}";
    }
}
