using EdgeRelay.Stun;

namespace EdgeRelay.Turn;

public sealed partial class TurnServer
{
    private int _draining;
    private int _nextAlternate;

    /// <summary>
    /// Draining: new allocations are refused (with 300 Try Alternate where an alternate server is configured,
    /// else 508), while existing allocations refresh, create permissions, bind channels and relay as before.
    /// For taking a box out of service without cutting a call. Safe to set from any thread.
    /// </summary>
    public bool Draining
    {
        get => Volatile.Read(ref _draining) != 0;
        set => Volatile.Write(ref _draining, value ? 1 : 0);
    }

    /// <summary>
    /// RFC 8656 §7.2 and RFC 8489 §10: the server may refuse an Allocate with 300 (Try Alternate) and an
    /// ALTERNATE-SERVER, to move the client to another relay: when draining, or at <see cref="TurnServerOptions.MaxAllocations"/>,
    /// so that boxes behind one DNS name spread their load without shared state. The alternate must be of
    /// the family of the request's source (RFC 8489 §14.15); alternates are taken in turn. The response is
    /// signed with the key that authenticated the request (this runs after step 1 of §7.2), so that an
    /// off-path attacker cannot redirect clients: RFC 8489 §10 has clients ignore an unauthenticated one.
    /// </summary>
    /// <summary>No allocation here (<paramref name="why"/>): 300 to an alternate of the client's family, else 508 Insufficient Capacity.</summary>
    private int RedirectOrRefuse(Span<byte> response, in StunMessageReader request, in FiveTuple fiveTuple, in AuthContext auth, string why)
    {
        int redirected = TryWriteTryAlternate(response, request, fiveTuple, auth, why);
        if (redirected > 0)
        {
            return redirected;
        }
        Counters.CapacityRejections++;
        TurnLog.AllocationRefused(_logger, auth.Username, why);
        return WriteError(response, request, StunErrorCode.InsufficientCapacity, auth);
    }

    /// <returns>The response's length, or 0 when no alternate of that family is configured.</returns>
    private int TryWriteTryAlternate(Span<byte> response, in StunMessageReader request, in FiveTuple fiveTuple, in AuthContext auth, string why)
    {
        IReadOnlyList<TransportAddress> alternates = _options.AlternateServers;
        StunAddressFamily family = fiveTuple.Client.Family;
        for (int i = 0; i < alternates.Count; i++)
        {
            TransportAddress alternate = alternates[(_nextAlternate + i) % alternates.Count];
            if (alternate.Family != family)
            {
                continue;
            }
            _nextAlternate = (_nextAlternate + i + 1) % alternates.Count;
            Counters.AllocationsRedirected++;
            TurnLog.AllocationRedirected(_logger, auth.Username, alternate, why);
            var writer = new StunMessageWriter(response, request.Method, StunClass.ErrorResponse, request.TransactionIdBytes);
            writer.AddErrorCode(StunErrorCode.TryAlternate, StunErrorCode.GetReasonPhrase(StunErrorCode.TryAlternate));
            writer.AddAddress(StunAttributeType.AlternateServer, alternate);
            writer.AddString(StunAttributeType.Software, Software);
            return Finish(ref writer, request, auth);
        }
        return 0;
    }
}
