namespace EdgeRelay.Load;

/// <summary>Round-trip times in 10 µs buckets up to 1 s, recorded lock-free from the receive loops.</summary>
internal sealed class LatencyHistogram
{
    private const int BucketMicroseconds = 10;
    private readonly long[] _buckets = new long[100_000];

    public void Record(long microseconds)
    {
        long bucket = Math.Clamp(microseconds / BucketMicroseconds, 0, _buckets.Length - 1);
        Interlocked.Increment(ref _buckets[bucket]);
    }

    public double PercentileMilliseconds(double percentile)
    {
        long total = 0;
        foreach (long count in _buckets)
        {
            total += count;
        }
        if (total == 0)
        {
            return double.NaN;
        }
        long rank = (long)Math.Ceiling(total * percentile / 100.0);
        long seen = 0;
        for (int i = 0; i < _buckets.Length; i++)
        {
            seen += _buckets[i];
            if (seen >= rank)
            {
                return (i + 1) * BucketMicroseconds / 1000.0;
            }
        }
        return double.NaN;
    }
}
