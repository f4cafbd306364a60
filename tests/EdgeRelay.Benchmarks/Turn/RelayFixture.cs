using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Benchmarks.Turn;

/// <summary>
/// A <see cref="TurnServer"/> brought to where a call's media flows, through the same requests a browser
/// sends: Allocate (challenged with 401, then signed with the TURN REST credential), ChannelBind of
/// <see cref="ChannelNumber"/> to <see cref="StunSamples.ChannelPeer"/>, and CreatePermission for
/// <see cref="StunSamples.IndicationPeer"/>, which has no channel and so gets Data indications.
/// </summary>
public sealed class RelayFixture
{
    public const ushort ChannelNumber = 0x4000;

    private readonly byte[] _response = new byte[TurnServer.MinResponseBufferLength];
    private readonly byte[] _nonce;
    private int _transactions;

    public RelayFixture()
    {
        var options = new TurnServerOptions
        {
            Realm = StunSamples.Realm,
            RelayAddressIPv4 = System.Net.IPAddress.Any,
            AdvertisedRelayAddressIPv4 = StunSamples.AdvertisedRelayAddress,
            SharedSecrets = [StunSamples.SharedSecret],
        };
        Server = new TurnServer(options, new PinnedWallClock(), new NullRelayBinder(), logger: null, random: new Random(42));

        // RFC 8656 §7.1 and RFC 8489 §9.2: the first Allocate is challenged, the second carries the nonce.
        StunMessageReader.TryParse(Send(StunSamples.AllocateRequest(NextTransactionId(), RequestSigning.None)), out StunMessageReader challenge);
        if (!challenge.TryGetErrorCode(out int code, out _) || code != StunErrorCode.Unauthenticated
            || !challenge.TryGetAttribute(StunAttributeType.Nonce, out ReadOnlySpan<byte> nonce))
        {
            throw new BenchmarkSetupException("the first Allocate is challenged with 401 and a NONCE");
        }
        _nonce = nonce.ToArray();

        ExpectSuccess(StunSamples.AllocateRequest(NextTransactionId(), RequestSigning.MessageIntegrity, _nonce), "Allocate");
        Allocation = Server.FindAllocation(FiveTuple) ?? throw new BenchmarkSetupException("no allocation after a successful Allocate");

        ExpectSuccess(StunSamples.Message(StunMethod.ChannelBind, StunClass.Request, NextTransactionId(),
            static (ref StunMessageWriter writer) =>
            {
                writer.AddAttribute(StunAttributeType.ChannelNumber, [ChannelNumber >> 8, ChannelNumber & 0xFF, 0, 0]);
                writer.AddXorAddress(StunAttributeType.XorPeerAddress, StunSamples.ChannelPeer);
            }, RequestSigning.MessageIntegrity, _nonce), "ChannelBind");

        ExpectSuccess(StunSamples.Message(StunMethod.CreatePermission, StunClass.Request, NextTransactionId(),
            static (ref StunMessageWriter writer) => writer.AddXorAddress(StunAttributeType.XorPeerAddress, StunSamples.IndicationPeer),
            RequestSigning.MessageIntegrity, _nonce), "CreatePermission");
    }

    public TurnServer Server { get; }
    public FiveTuple FiveTuple { get; } = new(StunSamples.Client, StunSamples.ServerAddress, TransportProtocol.Udp);
    public object ClientContext { get; } = new();
    public Allocation Allocation { get; }

    private byte[] NextTransactionId() => StunSamples.TransactionId(++_transactions);

    private ReadOnlySpan<byte> Send(byte[] request)
    {
        TurnAction action = Server.HandleClientPacket(FiveTuple, ClientContext, request, _response);
        BenchmarkSetupException.ThrowUnless(action.Kind == TurnActionKind.SendToClient && action.InResponseBuffer,
            "the server answers a request in the response buffer");
        return action.GetBytes(request, _response);
    }

    private void ExpectSuccess(byte[] request, string what)
    {
        ReadOnlySpan<byte> response = Send(request);
        BenchmarkSetupException.ThrowUnless(StunMessageReader.TryParse(response, out StunMessageReader reader) == StunParseError.None
            && reader.Class == StunClass.SuccessResponse,
            $"{what} succeeds (got {(reader.TryGetErrorCode(out int code, out _) ? code : 0)})");
    }
}
