using System.Diagnostics;

namespace EdgeRelay.Tests.Support;

/// <summary>Bounded waits for what a process or another thread does soon: the bound is generous, never an assertion about time.</summary>
public static class Eventually
{
    /// <summary>Whether <paramref name="condition"/> held within <paramref name="limit"/>, asking every 50 ms.</summary>
    public static bool True(Func<bool> condition, TimeSpan limit)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            if (waited.Elapsed >= limit)
            {
                return false;
            }
            Thread.Sleep(50);
        }
        return true;
    }
}
