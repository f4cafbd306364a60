namespace EdgeRelay.Fuzz.Harness;

/// <summary>
/// An invariant a target checks beyond "does not throw" failed. It is an exception so that AFL++ sees a
/// crash and keeps the input, exactly as it does for an exception out of the code under test.
/// </summary>
public sealed class FuzzInvariantException(string message) : Exception(message)
{
    public static void Check(bool condition, string invariant)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(invariant);
        }
    }
}
