using EdgeRelay.Stun;

namespace EdgeRelay.Turn;

/// <summary>
/// Remembers the responses to authenticated requests for 40 s, keyed by five-tuple and transaction ID,
/// so that a retransmitted request is answered exactly as the first time (RFC 8489 §6.3.1, RFC 8656 §5):
/// a retransmitted Allocate gets its success again instead of 437, a retransmitted Refresh with
/// LIFETIME 0 gets its success instead of 437. Bounded: the oldest entries go first.
/// </summary>
internal sealed class ResponseCache
{
    private readonly Dictionary<Key, byte[]> _responses = new();
    private readonly Queue<(Key Key, long ExpiresAtMs)> _order = new();
    private readonly long _lifetimeMs;
    private readonly int _capacity;

    public ResponseCache(TimeSpan lifetime, int capacity)
    {
        _lifetimeMs = (long)lifetime.TotalMilliseconds;
        _capacity = capacity;
    }

    public int Count => _responses.Count;

    public bool TryGet(in FiveTuple fiveTuple, TransactionId transactionId, long nowMs, out byte[]? response)
    {
        Evict(nowMs);
        return _responses.TryGetValue(new Key(fiveTuple, transactionId), out response);
    }

    public void Add(in FiveTuple fiveTuple, TransactionId transactionId, ReadOnlySpan<byte> response, long nowMs)
    {
        Evict(nowMs);
        var key = new Key(fiveTuple, transactionId);
        if (_responses.ContainsKey(key))
        {
            return;
        }
        while (_responses.Count >= _capacity && _order.TryDequeue(out var oldest))
        {
            _responses.Remove(oldest.Key);
        }
        _responses[key] = response.ToArray();
        _order.Enqueue((key, nowMs + _lifetimeMs));
    }

    private void Evict(long nowMs)
    {
        // Entries are queued in expiry order, since the lifetime is the same for all.
        while (_order.TryPeek(out var oldest) && oldest.ExpiresAtMs <= nowMs)
        {
            _order.Dequeue();
            _responses.Remove(oldest.Key);
        }
    }

    private readonly record struct Key(FiveTuple FiveTuple, TransactionId TransactionId);
}
