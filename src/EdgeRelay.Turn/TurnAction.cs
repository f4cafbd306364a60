using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Turn;

public enum TurnActionKind : byte
{
    /// <summary>Nothing to send: the input was answered by silence (RFC: "discard").</summary>
    None,

    /// <summary>Send bytes to the client: a response, a Data indication or ChannelData.</summary>
    SendToClient,

    /// <summary>Send bytes from the allocation's relayed address to a peer.</summary>
    SendToPeer,
}

/// <summary>
/// What the sans-I/O core asks the socket layer to do with one input. The bytes to send are
/// <see cref="Offset"/> and <see cref="Length"/> within the buffer the caller handed in
/// (<see cref="InResponseBuffer"/> says which of the two), so relaying copies nothing.
/// </summary>
public readonly struct TurnAction
{
    private TurnAction(TurnActionKind kind, bool inResponseBuffer, int offset, int length, TransportAddress destination,
        Allocation? allocation, IRelayEndpoint? relay, object? clientContext, ResponseSource source = ResponseSource.Received)
    {
        Source = source;
        Relay = relay;
        Kind = kind;
        InResponseBuffer = inResponseBuffer;
        Offset = offset;
        Length = length;
        Destination = destination;
        Allocation = allocation;
        ClientContext = clientContext;
    }

    public TurnActionKind Kind { get; }
    public bool InResponseBuffer { get; }
    public int Offset { get; }
    public int Length { get; }

    /// <summary>The client (for <see cref="TurnActionKind.SendToClient"/>) or the peer.</summary>
    public TransportAddress Destination { get; }

    /// <summary>The allocation whose relayed address sends, for <see cref="TurnActionKind.SendToPeer"/>.</summary>
    public Allocation? Allocation { get; }

    /// <summary>The relay socket to send from, for <see cref="TurnActionKind.SendToPeer"/>: the one of the peer's family.</summary>
    public IRelayEndpoint? Relay { get; }

    /// <summary>The socket layer's own handle for the client's connection or listener, passed through untouched.</summary>
    public object? ClientContext { get; }

    /// <summary>
    /// For <see cref="TurnActionKind.SendToClient"/>: which local endpoint sends, relative to the one the packet came
    /// in on (<see cref="ClientContext"/>). Only a Binding response with RFC 5780's CHANGE-REQUEST names another.
    /// </summary>
    public ResponseSource Source { get; }

    public static TurnAction None => default;

    public static TurnAction Respond(int length, in TransportAddress client, object? clientContext) =>
        new(TurnActionKind.SendToClient, inResponseBuffer: true, 0, length, client, null, null, clientContext);

    /// <summary>A response sent from another of the server's endpoints, for RFC 5780 §7.2's CHANGE-REQUEST.</summary>
    public static TurnAction RespondFrom(ResponseSource source, int length, in TransportAddress client, object? clientContext) =>
        new(TurnActionKind.SendToClient, inResponseBuffer: true, 0, length, client, null, null, clientContext, source);

    public static TurnAction ToClient(int offset, int length, in TransportAddress client, object? clientContext) =>
        new(TurnActionKind.SendToClient, inResponseBuffer: false, offset, length, client, null, null, clientContext);

    public static TurnAction ToPeer(Allocation allocation, RelayedTransport relay, int offset, int length, in TransportAddress peer) =>
        new(TurnActionKind.SendToPeer, inResponseBuffer: false, offset, length, peer, allocation, relay.Endpoint, null);

    public ReadOnlySpan<byte> GetBytes(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> response) =>
        (InResponseBuffer ? response : packet).Slice(Offset, Length);
}
