using System.Runtime.CompilerServices;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Auth;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Turn;

/// <summary>
/// The TURN server of RFC 8656 (and the STUN Binding of RFC 8489), without I/O: the socket layer hands
/// it each packet with the five-tuple it came on, and it answers with a <see cref="TurnAction"/> saying
/// what to send where. Time comes from the injected clock. Not thread-safe: the caller serialises calls.
/// </summary>
public sealed partial class TurnServer
{
    /// <summary>
    /// Bytes a peer datagram must have free in front of it, so that the Data indication header (20 bytes,
    /// XOR-PEER-ADDRESS of up to 24 and the DATA attribute header) is written in place.
    /// </summary>
    public const int PeerDataHeadroom = StunConstants.HeaderLength + StunConstants.AttributeHeaderLength
                                        + StunAddressCodec.IPv6ValueLength + StunConstants.AttributeHeaderLength;

    /// <summary>
    /// The largest peer datagram that still fits a Data indication, whose 16-bit length covers
    /// XOR-PEER-ADDRESS, the DATA header and the padded payload (RFC 8489 §5).
    /// </summary>
    public const int MaxPeerPayload = ushort.MaxValue - (PeerDataHeadroom - StunConstants.HeaderLength) - PeerDataTailroom;

    /// <summary>Bytes free after a peer datagram, for the padding to a multiple of 4.</summary>
    public const int PeerDataTailroom = 3;

    /// <summary>The response buffer handed to <see cref="HandleClientPacket"/> must be at least this long.</summary>
    public const int MinResponseBufferLength = 2048;

    private const string Software = "EdgeRelay";

    // Replaced as a whole by Reconfigure (TurnServer.Reconfigure.cs); everything else lives as long as the server.
    private TurnServerOptions _options;
    private TurnCredentials _credentials;
    private RelayPortPool _ports;

    /// <summary>RFC 5780 on UDP, or null; fixed for the server's life because the sockets behind it are.</summary>
    private NatBehaviorDiscoveryOptions? _natDiscovery;
    private readonly TurnClock _clock;
    private IWallClock _wallClock;
    private long _lastClockRefusalLogMs = long.MinValue;
    private readonly IRelayBinder _binder;
    private readonly ILogger _logger;
    private readonly Random? _random;
    private readonly NonceService _nonces;
    private readonly ResponseCache _responses;
    private readonly int[] _allocationsByProtocol = new int[3];
    private readonly Dictionary<FiveTuple, Allocation> _allocations = new();
    private readonly Dictionary<string, int> _allocationsPerUser = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, Reservation> _reservations = new();
    private readonly long _indicationIdPrefix = Random.Shared.NextInt64();
    private uint _indicationCounter;

    public TurnServer(TurnServerOptions options, TimeProvider time, IRelayBinder binder, ILogger? logger = null, Random? random = null)
    {
        _options = options;
        _natDiscovery = options.NatBehaviorDiscovery;
        _clock = new TurnClock(time);
        _wallClock = new SystemWallClock(time);
        _binder = binder;
        _logger = logger ?? NullLogger.Instance;
        _random = random;
        _credentials = new TurnCredentials(options.Realm, options.Users, options.SharedSecrets, options.RestMaxValidity);
        _nonces = new NonceService(_clock, options.NonceLifetime);
        _responses = new ResponseCache(options.ResponseCacheLifetime, options.ResponseCacheCapacity);
        _ports = new RelayPortPool(options.RelayPortMin, options.RelayPortMax, random);
        CreateRateLimits(options);
    }

    public TurnServerOptions Options => _options;

    /// <summary>
    /// The wall time TURN REST credentials are judged by (the only use of wall time in the core); the
    /// system's by default. The appliance puts its clock check here, so that an unsynchronised clock is
    /// corrected by what the cloud said, and a refusal while the clock is in doubt is logged as such.
    /// </summary>
    public IWallClock WallClock
    {
        get => Volatile.Read(ref _wallClock);
        set => Volatile.Write(ref _wallClock, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>
    /// Ends NAT behaviour discovery (RFC 5780) for good: the socket layer closed its alternate endpoints,
    /// so CHANGE-REQUEST gets 420 again and no OTHER-ADDRESS names a closed socket. The caller holds the lock.
    /// </summary>
    public void StopNatBehaviorDiscovery() => _natDiscovery = null;
    public TurnCounters Counters { get; } = new();
    public int AllocationCount => _allocations.Count;

    /// <summary>Allocations whose client reaches the relay over <paramref name="protocol"/>; readable without the lock.</summary>
    public int AllocationCountOf(TransportProtocol protocol) => Volatile.Read(ref _allocationsByProtocol[(int)protocol]);
    public int RelayPortsInUse => _ports.InUse;
    public IEnumerable<Allocation> Allocations => _allocations.Values;

    public Allocation? FindAllocation(in FiveTuple fiveTuple) =>
        _allocations.TryGetValue(fiveTuple, out Allocation? allocation) ? allocation : null;

    /// <summary>
    /// One datagram (UDP) or one framed message (TCP, TLS) from a client. <paramref name="response"/> must
    /// hold at least <see cref="MinResponseBufferLength"/> bytes. Never throws on what the client sent.
    /// </summary>
    public TurnAction HandleClientPacket(in FiveTuple fiveTuple, object? clientContext, ReadOnlySpan<byte> packet, Span<byte> response)
    {
        // ChannelData first, before any STUN decoding: it is the hot path (pion/turn does the same).
        if (ChannelData.LooksLikeChannelData(packet))
        {
            return HandleChannelData(fiveTuple, packet);
        }
        if (StunMessageReader.TryParse(packet, out StunMessageReader message) != StunParseError.None)
        {
            Counters.MalformedPackets++;
            return TurnAction.None;
        }
        // RFC 8489 §7.3: a FINGERPRINT that does not match means this was not STUN after all.
        if (message.HasFingerprint && !StunIntegrity.VerifyFingerprint(packet, message.FingerprintOffset))
        {
            Counters.MalformedPackets++;
            return TurnAction.None;
        }
        return message.Class switch
        {
            StunClass.Request => HandleRequest(fiveTuple, clientContext, message, response),
            StunClass.Indication when message.Method == StunMethod.Send => HandleSendIndication(fiveTuple, message),
            // Binding indications are keep-alives (RFC 8489 §6.3.2); responses are not for a server.
            _ => TurnAction.None,
        };
    }

    private TurnAction HandleRequest(in FiveTuple fiveTuple, object? clientContext, in StunMessageReader request, Span<byte> response)
    {
        if (_natDiscovery is not null && fiveTuple.Protocol == TransportProtocol.Udp && _natDiscovery.TryGetRole(fiveTuple.Server, out int role))
        {
            if (request.Method == StunMethod.Binding)
            {
                return HandleNatBehaviorDiscoveryBinding(fiveTuple, clientContext, role, request, response);
            }
            if (role != 0)
            {
                return TurnAction.Respond(WriteError(response, request, StunErrorCode.BadRequest, AlternateIsStunOnly, default), fiveTuple.Client, clientContext);
            }
        }
        if (request.Method == StunMethod.Binding)
        {
            return TurnAction.Respond(HandleBindingRequest(fiveTuple, request, response), fiveTuple.Client, clientContext);
        }
        if (request.Method is not (StunMethod.Allocate or StunMethod.Refresh or StunMethod.CreatePermission or StunMethod.ChannelBind))
        {
            return TurnAction.Respond(WriteError(response, request, StunErrorCode.BadRequest, default), fiveTuple.Client, clientContext);
        }

        long now = _clock.NowMs;
        if (_responses.TryGet(fiveTuple, request, _options.AllowAnonymous, now, out byte[]? cached))
        {
            cached.CopyTo(response);
            return TurnAction.Respond(cached!.Length, fiveTuple.Client, clientContext);
        }

        int authError = Authenticate(fiveTuple, request, response, out AuthContext auth);
        if (authError < 0)
        {
            // Rate-limited: no answer at all, which is what a reflector must not have (RFC 8656 §21.1).
            return TurnAction.None;
        }
        if (authError > 0)
        {
            if (request.Method == StunMethod.Refresh)
            {
                EndAllocationOfRemovedUser(fiveTuple);
            }
            return TurnAction.Respond(authError, fiveTuple.Client, clientContext);
        }
        // Spent only by requests that passed MESSAGE-INTEGRITY: a spoofer of the client's address cannot empty it.
        if (_allocations.TryGetValue(fiveTuple, out Allocation? existing) && !MayRequest(existing, now))
        {
            // Over UDP no answer: the client retransmits, backing off (RFC 8489 §6.2.1). Over TCP and TLS a client
            // does not retransmit (§6.2.2), so it is told that the server's capacity for it is spent for now.
            return fiveTuple.Protocol == TransportProtocol.Udp
                ? TurnAction.None
                : TurnAction.Respond(WriteError(response, request, StunErrorCode.InsufficientCapacity, auth), fiveTuple.Client, clientContext);
        }

        int length;
        Span<ushort> unknown = stackalloc ushort[8];
        int unknownCount = request.CollectUnknownComprehensionRequired(unknown);
        if (unknownCount > 0)
        {
            // RFC 8489 §7.3.1: 420 listing what was not understood.
            var writer = BeginError(response, request, StunErrorCode.UnknownAttribute);
            writer.AddUnknownAttributes(unknown[..unknownCount]);
            length = Finish(ref writer, request, auth);
        }
        else
        {
            length = request.Method switch
            {
                StunMethod.Allocate => HandleAllocateRequest(fiveTuple, clientContext, request, auth, response, now),
                StunMethod.Refresh => HandleRefreshRequest(fiveTuple, request, auth, response, now),
                StunMethod.CreatePermission => HandleCreatePermissionRequest(fiveTuple, request, auth, response, now),
                _ => HandleChannelBindRequest(fiveTuple, request, auth, response, now),
            };
        }
        if (request.Method is StunMethod.Allocate or StunMethod.Refresh)
        {
            // Only these two change state in a way a retransmission must not repeat (RFC 8489 §6.3.1).
            // A retransmitted CreatePermission or ChannelBind just refreshes what the first one made
            // (RFC 8656 §10.2, and the NOTE in §12.2), so it is handled again rather than remembered:
            // that saves memory per allocation.
            _responses.Add(fiveTuple, request.TransactionId, response[..length], now);
        }
        return TurnAction.Respond(length, fiveTuple.Client, clientContext);
    }

    /// <summary>RFC 8489 §6.3.1: the Binding success carries the client's reflexive transport address.</summary>
    private int HandleBindingRequest(in FiveTuple fiveTuple, in StunMessageReader request, Span<byte> response)
    {
        Counters.BindingRequests++;
        Span<ushort> unknown = stackalloc ushort[8];
        int unknownCount = request.CollectUnknownComprehensionRequired(unknown);
        if (unknownCount > 0)
        {
            var error = BeginError(response, request, StunErrorCode.UnknownAttribute);
            error.AddUnknownAttributes(unknown[..unknownCount]);
            return Finish(ref error, request, default);
        }
        var writer = BeginSuccess(response, request);
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, fiveTuple.Client);
        return Finish(ref writer, request, default);
    }

    /// <summary>Expires allocations, permissions, channels and reservations. Call about once a second.</summary>
    public void Tick()
    {
        long now = _clock.NowMs;
        PruneRateLimits(now);
        List<Allocation>? expired = null;
        long cooldown = (long)_options.ChannelCooldown.TotalMilliseconds;
        foreach (Allocation allocation in _allocations.Values)
        {
            if (!allocation.IsAlive(now))
            {
                (expired ??= []).Add(allocation);
            }
            else
            {
                allocation.Prune(now, cooldown);
            }
        }
        foreach (Allocation allocation in expired ?? [])
        {
            DeleteAllocation(allocation, "expired");
        }
        ExpireReservations(now);
    }

    /// <summary>Ends the allocation of a five-tuple, e.g. when its TCP connection closes (RFC 8656 §6.2).</summary>
    public bool DeleteAllocation(in FiveTuple fiveTuple, string reason)
    {
        if (_allocations.TryGetValue(fiveTuple, out Allocation? allocation))
        {
            DeleteAllocation(allocation, reason);
            return true;
        }
        return false;
    }

    private void DeleteAllocation(Allocation allocation, string reason)
    {
        if (allocation.IsDeleted)
        {
            return;
        }
        allocation.IsDeleted = true;
        _allocations.Remove(allocation.FiveTuple);
        Interlocked.Decrement(ref _allocationsByProtocol[(int)allocation.FiveTuple.Protocol]);
        if (_allocationsPerUser.TryGetValue(allocation.Username, out int count))
        {
            if (count <= 1)
            {
                _allocationsPerUser.Remove(allocation.Username);
            }
            else
            {
                _allocationsPerUser[allocation.Username] = count - 1;
            }
        }
        foreach (RelayedTransport relay in allocation.Relays)
        {
            relay.Endpoint.Allocation = null;
            relay.Endpoint.Dispose();
            _ports.Release(relay.BoundAddress.Port);
        }
        Counters.AllocationsEnded++;
        if (_logger.IsEnabled(LogLevel.Information))
        {
            TurnLog.AllocationEnded(_logger, reason, allocation.FiveTuple.ToString(), allocation.Username,
                DescribeRelays(allocation),
                string.Join(", ", allocation.Permissions.Select(p => p.PeerAddress.ToIPAddress().ToString())),
                allocation.ChannelCount, allocation.PacketsToPeers, allocation.BytesToPeers, allocation.PacketsFromPeers,
                allocation.BytesFromPeers, (_clock.NowMs - allocation.CreatedAtMs) / 1000);
        }
    }

    private static string DescribeRelays(Allocation allocation) =>
        allocation.AdditionalRelay is null
            ? allocation.RelayedAddress.ToString()
            : $"{allocation.RelayedAddress} and {allocation.AdditionalRelay.RelayedAddress}";

    /// <summary>Deletes every allocation (shutdown), logging each as RFC 8656 §21.3.2 suggests.</summary>
    public void DeleteAllAllocations(string reason)
    {
        foreach (Allocation allocation in _allocations.Values.ToList())
        {
            DeleteAllocation(allocation, reason);
        }
        ExpireReservations(long.MaxValue);
    }

    private StunMessageWriter BeginSuccess(Span<byte> response, in StunMessageReader request) =>
        new(response, request.Method, StunClass.SuccessResponse, request.TransactionIdBytes);

    private StunMessageWriter BeginError(Span<byte> response, in StunMessageReader request, int code)
    {
        var writer = new StunMessageWriter(response, request.Method, StunClass.ErrorResponse, request.TransactionIdBytes);
        writer.AddErrorCode(code);
        return writer;
    }

    private int WriteError(Span<byte> response, in StunMessageReader request, int code, in AuthContext auth) =>
        WriteError(response, request, code, StunErrorCode.GetReasonPhrase(code), auth);

    private int WriteError(Span<byte> response, in StunMessageReader request, int code, string reason, in AuthContext auth)
    {
        var writer = new StunMessageWriter(response, request.Method, StunClass.ErrorResponse, request.TransactionIdBytes);
        writer.AddErrorCode(code, reason);
        if (request.Method is StunMethod.Allocate or StunMethod.Refresh && auth.IsAuthenticated)
        {
            writer.AddString(StunAttributeType.Software, Software);
        }
        return Finish(ref writer, request, auth);
    }

    /// <summary>
    /// Signs the response with the key that authenticated the request (RFC 8489 §9.2.4: MESSAGE-INTEGRITY-SHA256
    /// when the client negotiated a password algorithm, MESSAGE-INTEGRITY otherwise), then adds FINGERPRINT
    /// when the request carried one.
    /// </summary>
    private static int Finish(ref StunMessageWriter writer, in StunMessageReader request, in AuthContext auth)
    {
        if (auth.Key is not null)
        {
            if (auth.RespondWithSha256)
            {
                writer.AddMessageIntegritySha256(auth.Key);
            }
            else
            {
                writer.AddMessageIntegrity(auth.Key);
            }
        }
        if (request.HasFingerprint)
        {
            writer.AddFingerprint();
        }
        return writer.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Lifetime(TimeSpan span) => (long)span.TotalMilliseconds;
}
