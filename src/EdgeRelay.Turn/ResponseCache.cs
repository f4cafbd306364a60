using System.Buffers.Binary;
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

    /// <summary>
    /// The response kept for <paramref name="request"/> if it can be a retransmission. RFC 8489 §6.3.1 answers a
    /// retransmission alike, and a retransmission is the same request: the same method and, since only responses
    /// to authenticated requests are kept, with message integrity. Another request that reuses the transaction ID
    /// is handled afresh, so that an Allocate success never answers a Refresh, nor a request without credentials.
    /// With <paramref name="anonymousAllowed"/> a request needs none, so its retransmission carries none either.
    /// </summary>
    public bool TryGet(in FiveTuple fiveTuple, in StunMessageReader request, bool anonymousAllowed, long nowMs, out byte[]? response)
    {
        Evict(nowMs);
        if (_responses.TryGetValue(new Key(fiveTuple, request.TransactionId), out response)
            && (anonymousAllowed || request.HasMessageIntegrity || request.HasMessageIntegritySha256)
            && StunMessageType.GetMethod(BinaryPrimitives.ReadUInt16BigEndian(response)) == request.Method)
        {
            return true;
        }
        response = null;
        return false;
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
