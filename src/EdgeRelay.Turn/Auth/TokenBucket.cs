namespace EdgeRelay.Turn.Auth;

/// <summary>
/// One token bucket: up to <c>burst</c> tokens, refilled at <c>perSecond</c>. The parameters are passed
/// on each call rather than stored, so that a reconfiguration's new limits apply to buckets already
/// filled, and a bucket costs 16 bytes where it is embedded (a table entry, an allocation).
/// </summary>
internal struct TokenBucket
{
    private double _tokens;
    private long _updatedMs;

    /// <summary>A bucket that is full at <paramref name="nowMs"/>.</summary>
    public static TokenBucket Full(int burst, long nowMs) => new() { _tokens = burst, _updatedMs = nowMs };

    /// <summary>Takes one token; false when the bucket is empty.</summary>
    public bool TryTake(int burst, double perSecond, long nowMs)
    {
        _tokens = Refilled(burst, perSecond, nowMs);
        _updatedMs = nowMs;
        if (_tokens < 1)
        {
            return false;
        }
        _tokens -= 1;
        return true;
    }

    /// <summary>The tokens at <paramref name="nowMs"/>, without taking one.</summary>
    public readonly double Refilled(int burst, double perSecond, long nowMs) =>
        Math.Min(burst, _tokens + Math.Max(0, nowMs - _updatedMs) * perSecond / 1000.0);
}
