namespace EdgeRelay.Turn.Auth;

/// <summary>Why a request was not authenticated; each reason is counted (and later exported) separately.</summary>
public enum AuthFailure : byte
{
    None,
    MissingIntegrity,
    MissingAttributes,
    StaleNonce,
    InvalidNonce,
    BadPasswordAlgorithm,
    WrongRealm,
    UnknownUser,
    MalformedRestUsername,
    RestCredentialExpired,
    RestCredentialTooFarAhead,
    BadIntegrity,
}
