using System.Buffers.Binary;
using System.Security.Cryptography;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

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
        // Step 7: the family of the relayed address.
        StunAddressFamily family = StunAddressFamily.IPv4;
        if (hasRequestedFamily)
        {
            if (requestedFamily.Length != 4)
            {
                return WriteError(response, request, StunErrorCode.BadRequest, auth);
            }
            family = (StunAddressFamily)requestedFamily[0];
        }
        if (family != _options.RelayFamily)
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
        // Step 9: ADDITIONAL-ADDRESS-FAMILY asks for an IPv6 address beside the IPv4 one. This relay serves
        // one family, so the IPv4 allocation succeeds with ADDRESS-ERROR-CODE 440 for the other.
        bool additionalRefused = false;
        if (hasAdditionalFamily)
        {
            if (additionalFamily.Length != 4 || (StunAddressFamily)additionalFamily[0] != StunAddressFamily.IPv6)
            {
                return WriteError(response, request, StunErrorCode.BadRequest, auth);
            }
            additionalRefused = true;
        }

        // Step 10: quotas, per user name (486) and for the whole box (508).
        _allocationsPerUser.TryGetValue(auth.Username, out int userAllocations);
        if (userAllocations >= _options.MaxAllocationsPerUser)
        {
            Counters.QuotaRejections++;
            TurnLog.AllocationRefused(_logger, auth.Username, "per-user allocation quota reached");
            return WriteError(response, request, StunErrorCode.AllocationQuotaReached, auth);
        }
        if (_allocations.Count >= _options.MaxAllocations)
        {
            Counters.CapacityRejections++;
            TurnLog.AllocationRefused(_logger, auth.Username, "allocation limit of the relay reached");
            return WriteError(response, request, StunErrorCode.InsufficientCapacity, auth);
        }

        IRelayEndpoint? relay;
        int port;
        ulong reservationToken = 0;
        if (hasToken)
        {
            if (!TryRedeemReservation(BinaryPrimitives.ReadUInt64BigEndian(token), now, out port, out relay))
            {
                return WriteError(response, request, StunErrorCode.InsufficientCapacity, auth);
            }
        }
        else if (!TryOpenRelay(even, reserveNext, dontFragment, out port, out relay, out IRelayEndpoint? reserved))
        {
            Counters.CapacityRejections++;
            TurnLog.RelayPortsExhausted(_logger, _ports.First, _ports.Last, _ports.InUse);
            return WriteError(response, request, StunErrorCode.InsufficientCapacity, auth);
        }
        else if (reserved is not null)
        {
            reservationToken = AddReservation(port + 1, reserved, now);
        }

        long lifetime = ComputeLifetime(request);
        var allocation = new Allocation(fiveTuple, clientContext, auth.Username,
            TransportAddress.FromIPAddress(_options.AdvertisedRelayAddress, port),
            TransportAddress.FromIPAddress(_options.RelayAddress, port),
            relay!, now + lifetime, _clock.UtcNow);
        relay!.Allocation = allocation;
        _allocations.Add(fiveTuple, allocation);
        _allocationsPerUser[auth.Username] = userAllocations + 1;
        Counters.AllocationsCreated++;
        TurnLog.AllocationCreated(_logger, fiveTuple.ToString(), auth.Username, allocation.RelayedAddress.ToString(), lifetime / 1000);

        var writer = BeginSuccess(response, request);
        writer.AddXorAddress(StunAttributeType.XorRelayedAddress, allocation.RelayedAddress);
        writer.AddUInt32(StunAttributeType.Lifetime, (uint)(lifetime / 1000));
        if (reservationToken != 0)
        {
            BinaryPrimitives.WriteUInt64BigEndian(writer.AddAttribute(StunAttributeType.ReservationToken, 8), reservationToken);
        }
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, fiveTuple.Client);
        if (additionalRefused)
        {
            // ADDRESS-ERROR-CODE (RFC 8656 §18.12): the family, then the code as ERROR-CODE writes it.
            string reason = StunErrorCode.GetReasonPhrase(StunErrorCode.AddressFamilyNotSupported);
            Span<byte> value = writer.AddAttribute(StunAttributeType.AddressErrorCode, 4 + reason.Length);
            StunErrorCodeCodec.Encode(value, StunErrorCode.AddressFamilyNotSupported, reason);
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
    /// Takes a port from the pool and has the socket layer bind it; a port that some other program holds
    /// is skipped, up to <see cref="BindAttempts"/> times.
    /// </summary>
    private bool TryOpenRelay(bool even, bool reserveNext, bool dontFragment, out int port, out IRelayEndpoint? relay,
        out IRelayEndpoint? reserved)
    {
        reserved = null;
        Span<int> busy = stackalloc int[BindAttempts * 2];
        int busyCount = 0;
        try
        {
            for (int attempt = 0; attempt < BindAttempts; attempt++)
            {
                if (!_ports.TryTake(even, reserveNext, out port))
                {
                    break;
                }
                if (reserveNext && !_ports.TryTakeSpecific(port + 1))
                {
                    busy[busyCount++] = port;
                    continue;
                }
                if (!_binder.TryBind(TransportAddress.FromIPAddress(_options.RelayAddress, port), dontFragment, out relay))
                {
                    busy[busyCount++] = port;
                    if (reserveNext)
                    {
                        _ports.Release(port + 1);
                    }
                    continue;
                }
                if (reserveNext && !_binder.TryBind(TransportAddress.FromIPAddress(_options.RelayAddress, port + 1), dontFragment, out reserved))
                {
                    relay!.Dispose();
                    busy[busyCount++] = port;
                    busy[busyCount++] = port + 1;
                    continue;
                }
                return true;
            }
            port = 0;
            relay = null;
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

    private ulong AddReservation(int port, IRelayEndpoint endpoint, long now)
    {
        ulong token;
        do
        {
            token = BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(8));
        }
        while (token == 0 || _reservations.ContainsKey(token));
        _reservations.Add(token, new Reservation(port, endpoint, now + Lifetime(_options.ReservationLifetime)));
        return token;
    }

    private bool TryRedeemReservation(ulong token, long now, out int port, out IRelayEndpoint? endpoint)
    {
        if (_reservations.Remove(token, out Reservation? reservation))
        {
            if (now < reservation.ExpiresAtMs)
            {
                port = reservation.Port;
                endpoint = reservation.Endpoint;
                return true;
            }
            ReleaseReservation(reservation);
        }
        port = 0;
        endpoint = null;
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
        reservation.Endpoint.Dispose();
        _ports.Release(reservation.Port);
    }

    /// <summary>A port held for a later Allocate with RESERVATION-TOKEN (RFC 8656 §7.2, EVEN-PORT R=1).</summary>
    private sealed record Reservation(int Port, IRelayEndpoint Endpoint, long ExpiresAtMs);
}
