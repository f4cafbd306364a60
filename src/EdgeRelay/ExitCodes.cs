namespace EdgeRelay;

internal static class ExitCodes
{
    public const int Success = 0;
    public const int Bind = 1;

    /// <summary>An operator tool's failure that is not about the input's content (a file that cannot be read or written).</summary>
    public const int Failure = 1;
    public const int Configuration = 2;

    /// <summary>config verify: the signature is not by a trusted key.</summary>
    public const int BadSignature = 3;
    public const int Usage = 64;

    /// <summary>
    /// EX_TEMPFAIL: "start me again", for a switch to another release or a rollback. The unit restarts on it
    /// (RestartForceExitStatus=) without calling it a failure (SuccessExitStatus=).
    /// </summary>
    public const int Restart = 75;
}
