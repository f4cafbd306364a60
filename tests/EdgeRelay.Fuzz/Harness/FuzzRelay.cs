using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Fuzz.Harness;

/// <summary>
/// One <see cref="TurnServer"/> as the fuzz targets drive it: a manual clock, a fake binder, small quotas
/// (so that the limits are reached in a few messages), the users and realm the seed corpus was captured
/// with, and a check of everything the core answers.
/// </summary>
public sealed class FuzzRelay
{
    public const string Realm = "edgerelay.test";
    public const string SharedSecret = "rest-api-secret";

    /// <summary>
    /// An unauthenticated request is answered with a Binding success, a 400, a 401 or a 420: none needs
    /// more than this. A larger answer would make the relay an amplifier for spoofed sources.
    /// </summary>
    public const int MaxUnauthenticatedResponseLength = 256;

    public static readonly IReadOnlyDictionary<string, string> Users = new Dictionary<string, string>
    {
        ["alice"] = "correct horse battery staple",
        ["bob"] = "hunter2",
    };

    public static readonly TransportAddress ServerAddress = Address("127.0.0.1", 13478);
    public static readonly TransportAddress Peer = Address("127.0.0.1", 13500);

    /// <summary>Two clients on UDP and two on TCP; the script's source index picks one.</summary>
    public static readonly FiveTuple[] Sources =
    [
        new(Address("127.0.0.1", 40000), ServerAddress, TransportProtocol.Udp),
        new(Address("192.0.2.10", 40001), ServerAddress, TransportProtocol.Udp),
        new(Address("127.0.0.1", 40002), ServerAddress, TransportProtocol.Tcp),
        new(Address("2001:db8::10", 40003), Address("::1", 13478), TransportProtocol.Tcp),
    ];

    private readonly Dictionary<FiveTuple, byte[]> _nonces = [];
    private readonly byte[] _response = new byte[TurnServer.MinResponseBufferLength];

    public FuzzRelay()
    {
        Options = new TurnServerOptions
        {
            Realm = Realm,
            RelayAddressIPv4 = IPAddress.Loopback,
            AdvertisedRelayAddressIPv4 = IPAddress.Parse("198.51.100.7"),
            RelayAddressIPv6 = IPAddress.IPv6Loopback,
            RelayPortMin = 50000,
            RelayPortMax = 50031,
            Users = Users,
            SharedSecrets = [SharedSecret],
            MaxAllocations = 6,
            MaxAllocationsPerUser = 4,
            MaxPermissionsPerAllocation = 4,
            MaxChannelsPerAllocation = 4,
            ResponseCacheCapacity = 16,
            PeerPolicy = new PeerAddressPolicy(allowLoopback: true, deny: [IPNetwork.Parse("127.0.0.99/32")]),
        };
        Server = new TurnServer(Options, Clock, Binder, logger: null, random: new Random(8656));
    }

    public TurnServerOptions Options { get; }
    public TurnServer Server { get; }
    public ManualClock Clock { get; } = new();
    public FuzzRelayBinder Binder { get; } = new();

    public static TransportAddress Address(string ip, int port) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), port);

    /// <summary>The last NONCE the server handed to this client, to sign the client's next request with.</summary>
    public byte[]? NonceOf(in FiveTuple client) => _nonces.GetValueOrDefault(client);

    public void Advance(TimeSpan delta)
    {
        Clock.Advance(delta);
        Server.Tick();
        CheckQuotas();
    }

    /// <summary>Hands one datagram or framed message to the core and checks what it answers.</summary>
    public TurnAction Deliver(in FiveTuple client, ReadOnlySpan<byte> packet)
    {
        TurnAction action = Server.HandleClientPacket(client, clientContext: null, packet, _response);
        switch (action.Kind)
        {
            case TurnActionKind.None:
                break;
            case TurnActionKind.SendToClient when action.InResponseBuffer:
                CheckResponse(client, packet, _response.AsSpan(action.Offset, action.Length));
                break;
            case TurnActionKind.SendToClient:
                FuzzInvariantException.Check(false, "the core answered a client with bytes of the client's own packet");
                break;
            case TurnActionKind.SendToPeer:
                FuzzInvariantException.Check(action.Offset >= 0 && action.Length >= 0 && action.Offset + action.Length <= packet.Length,
                    "relayed bytes outside the client's packet");
                FuzzInvariantException.Check(action.Allocation is not null && action.Relay is not null
                    && action.Allocation.FiveTuple == client, "relayed from an allocation that is not the client's");
                FuzzInvariantException.Check(Options.PeerPolicy.Evaluate(action.Destination).IsAllowed(),
                    $"relayed to {action.Destination}, which the peer policy refuses");
                break;
        }
        CheckQuotas();
        return action;
    }

    /// <summary>
    /// A datagram from <paramref name="peer"/> arrives at the client's allocation, with the head- and tailroom
    /// the core asks for (RFC 8656 §11.3, §12.7).
    /// </summary>
    public TurnAction DeliverFromPeer(in FiveTuple client, in TransportAddress peer, ReadOnlySpan<byte> payload)
    {
        Allocation? allocation = Server.FindAllocation(client);
        if (allocation is null)
        {
            return TurnAction.None;
        }
        int offset = TurnServer.PeerDataHeadroom;
        var buffer = new byte[offset + payload.Length + TurnServer.PeerDataTailroom];
        payload.CopyTo(buffer.AsSpan(offset));
        TurnAction action = Server.HandlePeerDatagram(allocation, peer, buffer, offset, payload.Length);
        if (action.Kind == TurnActionKind.None)
        {
            return action;
        }
        FuzzInvariantException.Check(action.Kind == TurnActionKind.SendToClient && !action.InResponseBuffer
            && action.Destination == client.Client, "a peer's datagram went somewhere else than to its allocation's client");
        FuzzInvariantException.Check(action.Offset >= 0 && action.Offset + action.Length <= buffer.Length, "peer data framed outside its buffer");
        ReadOnlySpan<byte> framed = buffer.AsSpan(action.Offset, action.Length);
        if (ChannelData.TryRead(framed, out _, out int length))
        {
            FuzzInvariantException.Check(framed.Slice(ChannelData.HeaderLength, length).SequenceEqual(payload), "ChannelData to the client carries other bytes");
        }
        else
        {
            FuzzInvariantException.Check(StunMessageReader.TryParse(framed, out StunMessageReader data) == StunParseError.None
                && data.Method == StunMethod.Data && data.Class == StunClass.Indication
                && data.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> carried) && carried.SequenceEqual(payload)
                && data.TryGetXorAddress(StunAttributeType.XorPeerAddress, out TransportAddress from) && from == peer,
                "a peer's datagram reached the client neither as ChannelData nor as a well-formed Data indication");
        }
        return action;
    }

    /// <summary>Allocate (after the 401 that brings a nonce), CreatePermission and ChannelBind, as a client would.</summary>
    public bool AllocateAndBindChannel(in FiveTuple client, ushort channel, in TransportAddress peer)
    {
        Span<byte> buffer = stackalloc byte[512];
        Deliver(client, Request(buffer, StunMethod.Allocate, 1, requestedTransport: true, peer: null, channel: 0, sign: false));
        return IsSuccess(Deliver(client, Request(buffer, StunMethod.Allocate, 2, requestedTransport: true, peer: null, channel: 0, sign: true, client)))
            && IsSuccess(Deliver(client, Request(buffer, StunMethod.ChannelBind, 3, requestedTransport: false, peer, channel, sign: true, client)));
    }

    private bool IsSuccess(TurnAction action) =>
        action.Kind == TurnActionKind.SendToClient && StunMessageReader.TryParse(_response.AsSpan(0, action.Length), out StunMessageReader r) == StunParseError.None
        && r.Class == StunClass.SuccessResponse;

    private ReadOnlySpan<byte> Request(Span<byte> buffer, StunMethod method, byte id, bool requestedTransport, TransportAddress? peer, ushort channel,
        bool sign, in FiveTuple client = default)
    {
        Span<byte> transactionId = stackalloc byte[StunConstants.TransactionIdLength];
        transactionId.Fill(id);
        var writer = new StunMessageWriter(buffer, method, StunClass.Request, transactionId);
        if (requestedTransport)
        {
            writer.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24);
        }
        if (channel != 0)
        {
            writer.AddUInt32(StunAttributeType.ChannelNumber, (uint)channel << 16);
        }
        if (peer is { } p)
        {
            writer.AddXorAddress(StunAttributeType.XorPeerAddress, p);
        }
        if (sign)
        {
            writer.AddString(StunAttributeType.Username, "alice");
            writer.AddString(StunAttributeType.Realm, Realm);
            writer.AddAttribute(StunAttributeType.Nonce, NonceOf(client) ?? []);
            writer.AddMessageIntegrity(LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, "alice", Realm, Users["alice"]));
        }
        writer.AddFingerprint();
        return buffer[..writer.Length];
    }

    /// <summary>
    /// RFC 8489 §6.3: a response echoes the request's method and transaction ID, is well formed, and (§14.7)
    /// its FINGERPRINT matches. The relay must not amplify: an unauthenticated request gets a short answer.
    /// </summary>
    private void CheckResponse(in FiveTuple client, ReadOnlySpan<byte> request, ReadOnlySpan<byte> response)
    {
        FuzzInvariantException.Check(response.Length > 0 && response.Length <= _response.Length, "response of no bytes");
        FuzzInvariantException.Check(StunMessageReader.TryParse(response, out StunMessageReader answer) == StunParseError.None,
            "the core answered with a malformed STUN message");
        FuzzInvariantException.Check(StunMessageReader.TryParse(request, out StunMessageReader asked) == StunParseError.None
            && asked.Class == StunClass.Request, "the core answered something that is not a STUN request");
        FuzzInvariantException.Check(answer.Class is StunClass.SuccessResponse or StunClass.ErrorResponse, "the answer is not a response");
        FuzzInvariantException.Check(answer.Method == asked.Method, "the answer's method is not the request's");
        FuzzInvariantException.Check(answer.TransactionIdBytes.SequenceEqual(asked.TransactionIdBytes), "the answer's transaction ID is not the request's");
        FuzzInvariantException.Check(!answer.HasFingerprint || StunIntegrity.VerifyFingerprint(response, answer.FingerprintOffset),
            "the answer's FINGERPRINT does not match");
        if (answer.Class == StunClass.ErrorResponse)
        {
            FuzzInvariantException.Check(answer.TryGetErrorCode(out int code, out _) && code is >= 300 and <= 699, "an error response without a valid ERROR-CODE");
        }
        if (!asked.HasMessageIntegrity && !asked.HasMessageIntegritySha256)
        {
            FuzzInvariantException.Check(response.Length <= MaxUnauthenticatedResponseLength,
                $"{response.Length} bytes answer an unauthenticated request of {request.Length}");
            FuzzInvariantException.Check(answer.Class == StunClass.ErrorResponse || asked.Method == StunMethod.Binding,
                "an unauthenticated request succeeded");
        }
        if (answer.TryGetAttribute(StunAttributeType.Nonce, out ReadOnlySpan<byte> nonce))
        {
            _nonces[client] = nonce.ToArray();
        }
    }

    private void CheckQuotas()
    {
        FuzzInvariantException.Check(Server.AllocationCount <= Options.MaxAllocations, "more allocations than MaxAllocations");
        FuzzInvariantException.Check(Server.RelayPortsInUse <= Options.RelayPortMax - Options.RelayPortMin + 1, "more relay ports in use than the range holds");
        FuzzInvariantException.Check(Binder.OpenCount <= 2 * (Options.RelayPortMax - Options.RelayPortMin + 1), "more relay sockets open than ports");
        foreach (Allocation allocation in Server.Allocations)
        {
            FuzzInvariantException.Check(!allocation.IsDeleted, "a deleted allocation is still in the table");
            FuzzInvariantException.Check(allocation.PermissionCount <= Options.MaxPermissionsPerAllocation, "more permissions than MaxPermissionsPerAllocation");
            FuzzInvariantException.Check(allocation.ChannelCount <= Options.MaxChannelsPerAllocation, "more channels than MaxChannelsPerAllocation");
        }
    }

    /// <summary>
    /// Re-signs a request as the client named in its USERNAME would: the NONCE becomes the last one the
    /// server gave this client, and MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are computed
    /// again (RFC 8489 §9.2.3, §14.5-§14.7). Without it a mutated request never passes authentication, and
    /// nonces are keyed per process, so no recorded request would either. Anything it cannot sign is left as is.
    /// </summary>
    public byte[] Resign(in FiveTuple client, ReadOnlySpan<byte> message)
    {
        if (StunMessageReader.TryParse(message, out StunMessageReader request) != StunParseError.None
            || (!request.HasMessageIntegrity && !request.HasMessageIntegritySha256)
            || !TryGetKey(request, out byte[]? key))
        {
            return message.ToArray();
        }
        byte[]? nonce = NonceOf(client);
        var signed = new byte[message.Length + 1024];
        message[..StunConstants.HeaderLength].CopyTo(signed);
        int length = StunConstants.HeaderLength;
        int offset = StunConstants.HeaderLength;
        while (offset + StunConstants.AttributeHeaderLength <= message.Length)
        {
            var type = (StunAttributeType)BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            int valueLength = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
            ReadOnlySpan<byte> value = message.Slice(offset + StunConstants.AttributeHeaderLength, valueLength);
            offset += StunConstants.AttributeHeaderLength + StunPadding.Pad4(valueLength);
            switch (type)
            {
                case StunAttributeType.Nonce when nonce is not null:
                    length = Append(signed, length, type, nonce);
                    break;
                case StunAttributeType.MessageIntegrity when valueLength == StunConstants.MessageIntegrityLength:
                    length = AppendMac(signed, length, type, valueLength, key, sha256: false);
                    break;
                case StunAttributeType.MessageIntegritySha256 when valueLength is >= 16 and <= StunConstants.MessageIntegritySha256Length:
                    length = AppendMac(signed, length, type, valueLength, key, sha256: true);
                    break;
                case StunAttributeType.Fingerprint when valueLength == StunConstants.FingerprintLength:
                    length = Append(signed, length, type, [0, 0, 0, 0]);
                    BinaryPrimitives.WriteUInt32BigEndian(signed.AsSpan(length - 4),
                        StunIntegrity.ComputeFingerprint(signed.AsSpan(0, length - 8), length - StunConstants.HeaderLength));
                    break;
                default:
                    length = Append(signed, length, type, value);
                    break;
            }
            if (length > ushort.MaxValue)
            {
                return message.ToArray();
            }
        }
        BinaryPrimitives.WriteUInt16BigEndian(signed.AsSpan(2), (ushort)(length - StunConstants.HeaderLength));
        return signed.AsSpan(0, length).ToArray();
    }

    private bool TryGetKey(in StunMessageReader request, out byte[]? key)
    {
        key = null;
        PasswordAlgorithm algorithm = request.TryGetAttribute(StunAttributeType.PasswordAlgorithm, out ReadOnlySpan<byte> chosen)
            && chosen.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(chosen) == 2 ? PasswordAlgorithm.Sha256 : PasswordAlgorithm.Md5;
        string? username = null;
        if (request.TryGetAttribute(StunAttributeType.Username, out ReadOnlySpan<byte> name))
        {
            username = Encoding.UTF8.GetString(name);
        }
        else if (request.TryGetAttribute(StunAttributeType.Userhash, out ReadOnlySpan<byte> hash))
        {
            foreach (string user in Users.Keys)
            {
                if (LongTermCredential.ComputeUserhash(user, Realm).AsSpan().SequenceEqual(hash))
                {
                    username = user;
                }
            }
        }
        if (username is null)
        {
            return false;
        }
        string? password = Users.GetValueOrDefault(username);
        if (password is null && username.Length > 0 && char.IsAsciiDigit(username[0]))
        {
            // TURN REST (coturn's use-auth-secret): password = base64(HMAC-SHA1(secret, user name)).
            password = Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(SharedSecret), Encoding.UTF8.GetBytes(username)));
        }
        if (password is null)
        {
            return false;
        }
        key = LongTermCredential.DeriveKey(algorithm, username, Realm, password);
        return true;
    }

    private static int Append(byte[] signed, int length, StunAttributeType type, ReadOnlySpan<byte> value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(signed.AsSpan(length), (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(signed.AsSpan(length + 2), (ushort)value.Length);
        value.CopyTo(signed.AsSpan(length + StunConstants.AttributeHeaderLength));
        int end = length + StunConstants.AttributeHeaderLength + StunPadding.Pad4(value.Length);
        signed.AsSpan(length + StunConstants.AttributeHeaderLength + value.Length, end - length - StunConstants.AttributeHeaderLength - value.Length).Clear();
        return end;
    }

    private static int AppendMac(byte[] signed, int length, StunAttributeType type, int valueLength, byte[]? key, bool sha256)
    {
        int end = Append(signed, length, type, new byte[valueLength]);
        Span<byte> covered = signed.AsSpan(0, length).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(covered[2..], (ushort)(end - StunConstants.HeaderLength));
        Span<byte> mac = stackalloc byte[StunConstants.MessageIntegritySha256Length];
        if (sha256)
        {
            HMACSHA256.HashData(key, covered, mac);
        }
        else
        {
            HMACSHA1.HashData(key, covered, mac);
        }
        mac[..valueLength].CopyTo(signed.AsSpan(length + StunConstants.AttributeHeaderLength));
        return end;
    }
}
