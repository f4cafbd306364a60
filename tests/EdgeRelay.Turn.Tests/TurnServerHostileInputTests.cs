using System.Buffers.Binary;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>
/// Whatever a client sends, <see cref="TurnServer.HandleClientPacket"/> answers without throwing, and what it
/// writes back is STUN for the same transaction. Fixed seeds: a failure reproduces.
/// </summary>
public sealed class TurnServerHostileInputTests
{
    private static readonly TransportAddress Peer = TurnTestHost.Address("8.8.8.8", 5000);

    private static readonly ushort[] InterestingTypes =
    [
        .. Enum.GetValues<StunAttributeType>().Select(t => (ushort)t),
        0x0000, 0x7777, 0x8777, 0xFFFF,
    ];

    private static readonly StunMethod[] Methods =
    [
        StunMethod.Binding, StunMethod.Allocate, StunMethod.Refresh, StunMethod.Send, StunMethod.Data,
        StunMethod.CreatePermission, StunMethod.ChannelBind, (StunMethod)0x000, (StunMethod)0xFFF,
    ];

    /// <summary>A server with an allocation, a permission and a channel on the five-tuple the fuzz uses, so every handler is reachable.</summary>
    private static (TurnTestHost Host, TurnTestClient Client, Allocation Allocation) Prepared(bool allowAnonymous)
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(allowAnonymous: allowAnonymous, sharedSecrets: ["s3cret"]));
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail(r => r.Lifetime(3600));
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);
        return (host, client, allocation);
    }

    private static void Feed(TurnServer server, TurnTestClient client, byte[] packet, byte[] response)
    {
        TurnAction action;
        try
        {
            action = server.HandleClientPacket(client.FiveTuple, client.ClientContext, packet, response);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"HandleClientPacket threw on {Convert.ToHexString(packet)}", e);
        }
        switch (action.Kind)
        {
            case TurnActionKind.SendToClient:
                Assert.True(action.InResponseBuffer);
                ReadOnlySpan<byte> written = action.GetBytes(packet, response);
                Assert.Equal(StunParseError.None, StunMessageReader.TryParse(written, out StunMessageReader reader));
                Assert.True(reader.TransactionIdBytes.SequenceEqual(packet.AsSpan(8, 12)), "answer for another transaction");
                Assert.True(reader.Class is StunClass.SuccessResponse or StunClass.ErrorResponse);
                break;
            case TurnActionKind.SendToPeer:
                Assert.NotNull(action.Allocation);
                Assert.InRange(action.Offset, 0, packet.Length);
                Assert.InRange(action.Length, 0, packet.Length - action.Offset);
                break;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Random_packets_never_make_the_server_throw(bool allowAnonymous)
    {
        (TurnTestHost host, TurnTestClient client, _) = Prepared(allowAnonymous);
        var random = new Random(20250601);
        var response = new byte[TurnServer.MinResponseBufferLength];

        for (int i = 0; i < 50_000; i++)
        {
            byte[] packet = new byte[random.Next(0, 600)];
            random.NextBytes(packet);
            // Most random bytes fail at the header; give a share of them a plausible one so the walk goes deeper.
            if (packet.Length >= StunConstants.HeaderLength && i % 2 == 0)
            {
                packet[0] &= 0x3F;
                BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)((packet.Length - StunConstants.HeaderLength) & ~3));
                BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), StunConstants.MagicCookie);
                Array.Resize(ref packet, StunConstants.HeaderLength + ((packet.Length - StunConstants.HeaderLength) & ~3));
            }
            else if (packet.Length >= 4 && i % 5 == 1)
            {
                // ChannelData-looking.
                packet[0] = (byte)(0x40 | (packet[0] & 0x3F));
            }
            Feed(host.Server, client, packet, response);
            if (i % 1000 == 0)
            {
                host.Time.AdvanceSeconds(1);
                host.Server.Tick();
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Random_well_framed_messages_never_make_the_server_throw(bool allowAnonymous)
    {
        (TurnTestHost host, TurnTestClient client, _) = Prepared(allowAnonymous);
        var random = new Random(8656);
        var response = new byte[TurnServer.MinResponseBufferLength];

        for (int i = 0; i < 20_000; i++)
        {
            var request = new StunRequest(Methods[random.Next(Methods.Length)], (StunClass)random.Next(4));
            int attributes = random.Next(0, 10);
            for (int a = 0; a < attributes; a++)
            {
                ushort type = InterestingTypes[random.Next(InterestingTypes.Length)];
                int length = random.Next(6) switch
                {
                    0 => 0,
                    1 => 4,
                    2 => 8,
                    3 => 20,
                    4 => 32,
                    _ => random.Next(0, 120),
                };
                byte[] value = new byte[length];
                random.NextBytes(value);
                if (type == (ushort)StunAttributeType.XorPeerAddress && length == 8 && random.Next(2) == 0)
                {
                    request.XorPeerAddress(random.Next(2) == 0 ? Peer : TransportAddress.FromIPv4((uint)random.Next(), (ushort)random.Next(65536)));
                    continue;
                }
                if (type == (ushort)StunAttributeType.ChannelNumber && random.Next(2) == 0)
                {
                    value = [0x40, (byte)random.Next(3), 0, 0];
                }
                if (type is (ushort)StunAttributeType.MessageIntegrity or (ushort)StunAttributeType.MessageIntegritySha256
                    or (ushort)StunAttributeType.Fingerprint)
                {
                    // Integrity and fingerprint are written for real below, with a valid or a random key.
                    continue;
                }
                request.Attribute(type, value);
            }
            StunAuth? auth = random.Next(3) switch
            {
                0 => null,
                1 => client.CurrentAuth(),
                _ => new StunAuth
                {
                    Username = random.Next(2) == 0 ? "alice" : $"{random.Next()}:x",
                    Realm = StunAuth.Utf8(TurnTestHost.Realm),
                    Nonce = client.Nonce,
                    Key = new byte[random.Next(1, 40)],
                    Sha256Integrity = random.Next(2) == 0,
                },
            };
            if (random.Next(4) == 0)
            {
                request.WithFingerprint();
            }
            Feed(host.Server, client, request.Encode(auth), response);
            if (i % 500 == 0)
            {
                host.Time.AdvanceSeconds(7);
                host.Server.Tick();
            }
        }
    }

    public static IEnumerable<object[]> ValidMessages()
    {
        yield return ["allocate"];
        yield return ["refresh"];
        yield return ["create-permission"];
        yield return ["channel-bind"];
        yield return ["send"];
        yield return ["channel-data"];
        yield return ["binding"];
    }

    private static byte[] Valid(string kind, TurnTestClient client) => kind switch
    {
        "allocate" => TurnTestClient.AllocateRequest().Lifetime(1200).EvenPort(true).DontFragment().WithFingerprint().Encode(client.CurrentAuth()),
        "refresh" => new StunRequest(StunMethod.Refresh).Lifetime(600).Encode(client.CurrentAuth()),
        "create-permission" => new StunRequest(StunMethod.CreatePermission).XorPeerAddress(Peer).XorPeerAddress(TurnTestHost.Address("1.1.1.1", 1)).Encode(client.CurrentAuth()),
        "channel-bind" => new StunRequest(StunMethod.ChannelBind).ChannelNumber(0x4000).XorPeerAddress(Peer).WithFingerprint().Encode(client.CurrentAuth()),
        "send" => TurnTestClient.SendIndication(Peer, [1, 2, 3, 4, 5, 6, 7, 8, 9]),
        "channel-data" => TurnTestClient.ChannelDataMessage(0x4000, [1, 2, 3, 4, 5, 6, 7, 8, 9], padding: 3),
        _ => new StunRequest(StunMethod.Binding).WithFingerprint().Encode(),
    };

    [Theory]
    [MemberData(nameof(ValidMessages))]
    public void Truncations_of_valid_messages_never_make_the_server_throw(string kind)
    {
        (TurnTestHost host, TurnTestClient client, _) = Prepared(allowAnonymous: false);
        byte[] valid = Valid(kind, client);
        var response = new byte[TurnServer.MinResponseBufferLength];

        for (int length = 0; length < valid.Length; length++)
        {
            byte[] truncated = valid[..length];
            Feed(host.Server, client, truncated, response);

            // The same, with the header's length field patched to fit, so the parser accepts the frame.
            if (length >= StunConstants.HeaderLength && (valid[0] & 0xC0) == 0 && (length & 3) == 0)
            {
                BinaryPrimitives.WriteUInt16BigEndian(truncated.AsSpan(2), (ushort)(length - StunConstants.HeaderLength));
                Feed(host.Server, client, truncated, response);
            }
        }
    }

    [Theory]
    [MemberData(nameof(ValidMessages))]
    public void Mutations_of_valid_messages_never_make_the_server_throw(string kind)
    {
        (TurnTestHost host, TurnTestClient client, _) = Prepared(allowAnonymous: false);
        var anonymous = Prepared(allowAnonymous: true);
        byte[] valid = Valid(kind, client);
        var random = new Random(kind.Length * 7919);
        var response = new byte[TurnServer.MinResponseBufferLength];

        for (int i = 0; i < 5_000; i++)
        {
            byte[] mutated = (byte[])valid.Clone();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++)
            {
                int at = random.Next(mutated.Length);
                switch (random.Next(3))
                {
                    case 0: mutated[at] ^= (byte)(1 << random.Next(8)); break;
                    case 1: mutated[at] = (byte)random.Next(256); break;
                    default: mutated[at] = random.Next(2) == 0 ? (byte)0x00 : (byte)0xFF; break;
                }
            }
            Feed(host.Server, client, mutated, response);
            Feed(anonymous.Host.Server, client, mutated, response);
        }
    }

    [Fact]
    public void Random_peer_datagrams_never_make_the_server_throw()
    {
        (TurnTestHost host, TurnTestClient client, Allocation allocation) = Prepared(allowAnonymous: false);
        Assert.True(client.CreatePermission(TurnTestHost.Address("1.1.1.1", 1)).IsSuccess);
        var random = new Random(5);
        TransportAddress[] peers = [Peer, TurnTestHost.Address("1.1.1.1", 9), TurnTestHost.Address("9.9.9.9", 9), TurnTestHost.Address("2606:4700::1", 9)];

        for (int i = 0; i < 10_000; i++)
        {
            int length = random.Next(0, 1500);
            var buffer = new byte[TurnServer.PeerDataHeadroom + length + TurnServer.PeerDataTailroom];
            random.NextBytes(buffer);
            TurnAction action = host.Server.HandlePeerDatagram(allocation, peers[random.Next(peers.Length)], buffer, TurnServer.PeerDataHeadroom, length);
            if (action.Kind == TurnActionKind.SendToClient)
            {
                Assert.InRange(action.Offset, 0, TurnServer.PeerDataHeadroom);
                Assert.True(action.Offset + action.Length <= buffer.Length);
            }
        }
    }
}
