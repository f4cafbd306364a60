namespace EdgeRelay;

internal static class ExitCodes
{
    public const int Success = 0;
    public const int Bind = 1;
    public const int Configuration = 2;
    public const int Usage = 64;
}
