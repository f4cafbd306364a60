using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Auth;

namespace EdgeRelay.Turn;

public sealed partial class TurnServer
{
    /// <summary>UDP, the only REQUESTED-TRANSPORT defined (RFC 8656 §18.7).</summary>
    private const byte ProtocolUdp = 17;

    /// <summary>How many busy ports (bound by some other process) are skipped before answering 508.</summary>
    private const int BindAttempts = 16;

    /// <summary>RFC 8656 §7.2: receiving an Allocate request, after authentication (step 1).</summary>
    private int HandleAllocateRequest(in FiveTuple fiveTuple, object? clientContext, in StunMessageReader request, in AuthContext auth,
        Span<byte> response, long now)
    {
        // Step 2: one allocation per five-tuple. (A retransmission was answered from the cache already.)
        // One that has expired, but that Tick has not removed yet, no longer counts.
        if (_allocations.TryGetValue(fiveTuple, out Allocation? existing))
        {
            if (existing.IsAlive(now))
            {
                return WriteError(response, request, StunErrorCode.AllocationMismatch, auth);
            }
            DeleteAllocation(existing, "expired");
        }

        // Draining: no new allocation here; the client is sent on (300), or refused as at capacity (508).
        if (Draining)
        {
            return RedirectOrRefuse(response, request, fiveTuple, auth, "draining");
        }

        // Step 3: REQUESTED-TRANSPORT, and only UDP.
        if (!request.TryGetAttribute(StunAttributeType.RequestedTransport, out ReadOnlySpan<byte> transport) || transport.Length != 4)
        {
            return WriteError(response, request, StunErrorCode.BadRequest, auth);
        }
        if (transport[0] != ProtocolUdp)
        {
            return WriteError(response, request, StunErrorCode.UnsupportedTransportProtocol, auth);
        }

        // Step 4: DONT-FRAGMENT is supported: the socket layer sets DF on this relay socket.
        bool dontFragment = request.HasAttribute(StunAttributeType.DontFragment);

        bool hasToken = request.TryGetAttribute(StunAttributeType.ReservationToken, out ReadOnlySpan<byte> token);
        bool hasEvenPort = request.TryGetAttribute(StunAttributeType.EvenPort, out ReadOnlySpan<byte> evenPort);
        bool hasRequestedFamily = request.TryGetAttribute(StunAttributeType.RequestedAddressFamily, out ReadOnlySpan<byte> requestedFamily);
        bool hasAdditionalFamily = request.TryGetAttribute(StunAttributeType.AdditionalAddressFamily, out ReadOnlySpan<byte> additionalFamily);
        // A client of the pre-RFC draft numbering is answered in that numbering.
        bool draftNumbering = !hasAdditionalFamily
                              && request.TryGetAttribute(StunAttributeType.AdditionalAddressFamilyDraft, out additionalFamily);
        hasAdditionalFamily |= draftNumbering;

        // Step 5: RESERVATION-TOKEN stands alone.
        if (hasToken && (hasEvenPort || hasRequestedFamily || hasAdditionalFamily || token.Length != 8))
        {
            return WriteError(response, request, StunErrorCode.BadRequest, auth);
        }
        // Step 6: one family attribute at most.
        if (hasRequestedFamily && hasAdditionalFamily)
        {
            return WriteError(response, request, StunErrorCode.BadRequest, auth);
        }
        // Step 7: the family of the relayed address: IPv4 unless REQUESTED-ADDRESS-FAMILY says otherwise.
        StunAddressFamily family = StunAddressFamily.IPv4;
        if (hasRequestedFamily)
        {
            if (requestedFamily.Length != 4)
            {
                return WriteError(response, request, StunErrorCode.BadRequest, auth);
            }
            family = (StunAddressFamily)requestedFamily[0];
        }
        if (!hasToken && !_options.TryGetRelayAddresses(family, out _, out _))
        {
            return WriteError(response, request, StunErrorCode.AddressFamilyNotSupported, auth);
        }
        // Step 8: EVEN-PORT; the R bit asks to reserve the next port too.
        bool even = hasEvenPort;
        bool reserveNext = hasEvenPort && evenPort.Length >= 1 && (evenPort[0] & 0x80) != 0;
        if (reserveNext && hasAdditionalFamily)
        {
            return WriteError(response, request, StunErrorCode.BadRequest, auth);
        }
        // Step 9: ADDITIONAL-ADDRESS-FAMILY asks for an IPv6 relayed address beside the IPv4 one.
        bool dual = false;
        if (hasAdditionalFamily)
        {
            if (additionalFamily.Length != 4 || (StunAddressFamily)additionalFamily[0] != StunAddressFamily.IPv6)
            {
                return WriteError(response, request, StunErrorCode.BadRequest, auth);
            }
            dual = true;
        }

        // Step 10: quotas, per user name (486) and for the whole box (508).
        _allocationsPerUser.TryGetValue(auth.Username, out int userAllocations);
        if (userAllocations >= _options.MaxAllocationsPerUser)
        {
            Counters.CountQuotaRejection(Quota.AllocationsPerUser);
            TurnLog.AllocationRefused(_logger, auth.Username, "per-user allocation quota reached");
            return WriteError(response, request, StunErrorCode.AllocationQuotaReached, auth);
        }
        if (_allocations.Count >= _options.MaxAllocations)
        {
            return RedirectOrRefuse(response, request, fiveTuple, auth, "allocation limit of the relay reached");
        }

        RelayedTransport? relay;
        ulong reservationToken = 0;
        if (hasToken)
        {
            if (!TryRedeemReservation(BinaryPrimitives.ReadUInt64BigEndian(token), now, out relay))
            {
                return WriteError(response, request, StunErrorCode.InsufficientCapacity, auth);
            }
        }
        else if (!TryOpenRelay(family, even, reserveNext, dontFragment, out relay, out RelayedTransport? reserved))
        {
            Counters.CapacityRejections++;
            TurnLog.RelayPortsExhausted(_logger, _ports.First, _ports.Last, _ports.InUse);
            return WriteError(response, request, StunErrorCode.InsufficientCapacity, auth);
        }
        else if (reserved is not null)
        {
            reservationToken = AddReservation(reserved, now);
        }

        // A dual allocation whose IPv6 half fails still succeeds for IPv4, saying why in
        // ADDRESS-ERROR-CODE: 440 when this relay has no IPv6, 508 when no IPv6 port could be bound.
        RelayedTransport? additional = null;
        int additionalError = 0;
        if (dual)
        {
            if (!_options.TryGetRelayAddresses(StunAddressFamily.IPv6, out _, out _))
            {
                additionalError = StunErrorCode.AddressFamilyNotSupported;
            }
            else if (!TryOpenRelay(StunAddressFamily.IPv6, even: false, reserveNext: false, dontFragment, out additional, out _))
            {
                additionalError = StunErrorCode.InsufficientCapacity;
            }
        }

        long lifetime = ComputeLifetime(request);
        var allocation = new Allocation(fiveTuple, clientContext, auth.Username, relay!, additional, now + lifetime, _clock.UtcNow, now);
        allocation.RequestBudget = TokenBucket.Full(_options.RequestBurstPerAllocation, now);
        foreach (RelayedTransport opened in allocation.Relays)
        {
            opened.Endpoint.Allocation = allocation;
        }
        _allocations.Add(fiveTuple, allocation);
        Interlocked.Increment(ref _allocationsByProtocol[(int)fiveTuple.Protocol]);
        _allocationsPerUser[auth.Username] = userAllocations + 1;
        Counters.AllocationsCreated++;
        TurnLog.AllocationCreated(_logger, fiveTuple.ToString(), auth.Username, DescribeRelays(allocation), lifetime / 1000);

        var writer = BeginSuccess(response, request);
        foreach (RelayedTransport opened in allocation.Relays)
        {
            writer.AddXorAddress(StunAttributeType.XorRelayedAddress, opened.RelayedAddress);
        }
        writer.AddUInt32(StunAttributeType.Lifetime, (uint)(lifetime / 1000));
        if (reservationToken != 0)
        {
            BinaryPrimitives.WriteUInt64BigEndian(writer.AddAttribute(StunAttributeType.ReservationToken, 8), reservationToken);
        }
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, fiveTuple.Client);
        if (additionalError != 0)
        {
            // ADDRESS-ERROR-CODE (RFC 8656 §18.12): the family, then the code as ERROR-CODE writes it.
            string reason = StunErrorCode.GetReasonPhrase(additionalError);
            Span<byte> value = writer.AddAttribute(
                draftNumbering ? StunAttributeType.AddressErrorCodeDraft : StunAttributeType.AddressErrorCode, 4 + reason.Length);
            StunErrorCodeCodec.Encode(value, additionalError, reason);
            value[0] = (byte)StunAddressFamily.IPv6;
        }
        writer.AddString(StunAttributeType.Software, Software);
        return Finish(ref writer, request, auth);
    }

    /// <summary>
    /// RFC 8656 §7.2 and §8.2: the requested LIFETIME capped at the maximum, and never below the
    /// default; no LIFETIME means the default.
    /// </summary>
    private long ComputeLifetime(in StunMessageReader request)
    {
        long defaultMs = Lifetime(_options.DefaultLifetime);
        if (!request.TryGetUInt32(StunAttributeType.Lifetime, out uint seconds))
        {
            return defaultMs;
        }
        long requested = Math.Min(seconds * 1000L, Lifetime(_options.MaxLifetime));
        return Math.Max(requested, defaultMs);
    }

    /// <summary>
    /// Takes a port from the pool and has the socket layer bind it in <paramref name="family"/>; a port
    /// that some other program holds is skipped, up to <see cref="BindAttempts"/> times.
    /// </summary>
    private bool TryOpenRelay(StunAddressFamily family, bool even, bool reserveNext, bool dontFragment,
        out RelayedTransport? relay, out RelayedTransport? reserved)
    {
        relay = null;
        reserved = null;
        if (!_options.TryGetRelayAddresses(family, out IPAddress? bind, out IPAddress? advertised))
        {
            return false;
        }
        Span<int> busy = stackalloc int[BindAttempts * 2];
        int busyCount = 0;
        try
        {
            for (int attempt = 0; attempt < BindAttempts; attempt++)
            {
                if (!_ports.TryTake(even, reserveNext, out int port))
                {
                    break;
                }
                if (reserveNext && !_ports.TryTakeSpecific(port + 1))
                {
                    busy[busyCount++] = port;
                    continue;
                }
                relay = TryBind(bind, advertised, port, dontFragment);
                if (relay is null)
                {
                    busy[busyCount++] = port;
                    if (reserveNext)
                    {
                        _ports.Release(port + 1);
                    }
                    continue;
                }
                if (reserveNext)
                {
                    reserved = TryBind(bind, advertised, port + 1, dontFragment);
                    if (reserved is null)
                    {
                        relay.Endpoint.Dispose();
                        relay = null;
                        busy[busyCount++] = port;
                        busy[busyCount++] = port + 1;
                        continue;
                    }
                }
                return true;
            }
            return false;
        }
        finally
        {
            // Ports held by others go back: they may be free by the next request.
            foreach (int p in busy[..busyCount])
            {
                _ports.Release(p);
            }
        }
    }

    private RelayedTransport? TryBind(IPAddress bind, IPAddress advertised, int port, bool dontFragment)
    {
        var bound = TransportAddress.FromIPAddress(bind, port);
        return _binder.TryBind(bound, dontFragment, out IRelayEndpoint? endpoint)
            ? new RelayedTransport(TransportAddress.FromIPAddress(advertised, port), bound, endpoint!)
            : null;
    }

    private ulong AddReservation(RelayedTransport relay, long now)
    {
        ulong token;
        do
        {
            token = BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(8));
        }
        while (token == 0 || _reservations.ContainsKey(token));
        _reservations.Add(token, new Reservation(relay, now + Lifetime(_options.ReservationLifetime)));
        return token;
    }

    private bool TryRedeemReservation(ulong token, long now, out RelayedTransport? relay)
    {
        if (_reservations.Remove(token, out Reservation? reservation))
        {
            if (now < reservation.ExpiresAtMs)
            {
                relay = reservation.Relay;
                return true;
            }
            ReleaseReservation(reservation);
        }
        relay = null;
        return false;
    }

    private void ExpireReservations(long now)
    {
        if (_reservations.Count == 0)
        {
            return;
        }
        foreach ((ulong token, Reservation reservation) in _reservations.ToList())
        {
            if (now >= reservation.ExpiresAtMs)
            {
                _reservations.Remove(token);
                ReleaseReservation(reservation);
            }
        }
    }

    private void ReleaseReservation(Reservation reservation)
    {
        reservation.Relay.Endpoint.Dispose();
        _ports.Release(reservation.Relay.BoundAddress.Port);
    }

    /// <summary>A port held for a later Allocate with RESERVATION-TOKEN (RFC 8656 §7.2, EVEN-PORT R=1).</summary>
    private sealed record Reservation(RelayedTransport Relay, long ExpiresAtMs);
}
