namespace EdgeRelay.Benchmarks;

/// <summary>
/// A benchmark's setup found that the operation would not do what the benchmark claims to measure (a
/// relay step that drops the packet, a check that fails): better no number than a wrong one.
/// </summary>
public sealed class BenchmarkSetupException(string message) : Exception(message)
{
    public static void ThrowUnless(bool condition, string what)
    {
        if (!condition)
        {
            throw new BenchmarkSetupException(what);
        }
    }
}
