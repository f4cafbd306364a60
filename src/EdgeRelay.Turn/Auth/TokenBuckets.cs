namespace EdgeRelay.Turn.Auth;

/// <summary>
/// One token bucket per key (a client's IP address, a user name), in a table of bounded size: a bucket
/// holds up to <c>burst</c> tokens and gains <c>perSecond</c> a second. A key that is not in the table has
/// a full bucket, so buckets that have filled up again are dropped (<see cref="Prune"/>) and only keys
/// that spent tokens recently take memory. When the table is full of such keys, a new key is refused: an
/// attacker who spreads over more addresses than the table holds is limited as one. Not thread-safe: the
/// core is called under its caller's serialisation.
/// </summary>
internal sealed class TokenBuckets<TKey>(int burst, double perSecond, int maxKeys) where TKey : notnull
{
    private readonly Dictionary<TKey, TokenBucket> _buckets = new();

    public int Count => _buckets.Count;

    /// <summary>Takes one token for <paramref name="key"/>; false when its bucket is empty.</summary>
    public bool TryTake(TKey key, long nowMs)
    {
        if (!_buckets.TryGetValue(key, out TokenBucket bucket))
        {
            if (_buckets.Count >= maxKeys)
            {
                Prune(nowMs);
                if (_buckets.Count >= maxKeys)
                {
                    return false;
                }
            }
            bucket = TokenBucket.Full(burst, nowMs);
        }
        bool taken = bucket.TryTake(burst, perSecond, nowMs);
        _buckets[key] = bucket;
        return taken;
    }

    /// <summary>Whether <paramref name="key"/> has no token left now, without taking one.</summary>
    public bool IsEmpty(TKey key, long nowMs) => _buckets.TryGetValue(key, out TokenBucket bucket) && bucket.Refilled(burst, perSecond, nowMs) < 1;

    /// <summary>Drops the buckets that are full again: they hold nothing a fresh bucket would not.</summary>
    public void Prune(long nowMs)
    {
        List<TKey>? full = null;
        foreach ((TKey key, TokenBucket bucket) in _buckets)
        {
            if (bucket.Refilled(burst, perSecond, nowMs) >= burst)
            {
                (full ??= []).Add(key);
            }
        }
        if (full is not null)
        {
            foreach (TKey key in full)
            {
                _buckets.Remove(key);
            }
        }
    }
}
