namespace EdgeRelay.Net.Tests.Support;

/// <summary>A bounded wait for what another thread does soon: the bound (5 s) is generous, never an assertion about time.</summary>
internal static class Eventually
{
    public static async Task<bool> TrueAsync(Func<bool> condition)
    {
        for (int attempt = 0; attempt < 250 && !condition(); attempt++)
        {
            await Task.Delay(20);
        }
        return condition();
    }
}
