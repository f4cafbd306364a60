using EdgeRelay.Stun;

namespace EdgeRelay.Turn;

/// <summary>NAT behaviour discovery, RFC 5780 §6 and §6.1: the Binding request as a server that serves it answers it.</summary>
public sealed partial class TurnServer
{
    /// <summary>
    /// The reason phrase of the 400 for a TURN request to an endpoint that exists only for RFC 5780: the
    /// alternate address and port serve Binding, nothing is relayed through them.
    /// </summary>
    internal const string AlternateIsStunOnly = "Bad Request: this address serves STUN Binding only (RFC 5780)";

    /// <summary>The reason phrase of the 400 for RESPONSE-PORT together with PADDING (RFC 5780 §6.1).</summary>
    internal const string PaddingWithResponsePort = "Bad Request: PADDING and RESPONSE-PORT together";

    /// <summary>
    /// A Binding request that came in on one of the endpoints of <see cref="_natDiscovery"/>
    /// (<paramref name="role"/>: see <see cref="NatBehaviorDiscoveryOptions"/>). RFC 5780 §6.1, in its order:
    /// CHANGE-REQUEST picks the endpoint the answer leaves from (Table 1), RESPONSE-PORT the client's port it
    /// goes to, and the answer carries MAPPED-ADDRESS and XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS
    /// (with an alternate address only) and PADDING when the request had some. Errors go back the way the
    /// request came.
    /// </summary>
    private TurnAction HandleNatBehaviorDiscoveryBinding(in FiveTuple fiveTuple, object? clientContext, int role,
        in StunMessageReader request, Span<byte> response)
    {
        Counters.BindingRequests++;
        NatBehaviorDiscoveryOptions discovery = _natDiscovery!;
        bool hasChangeRequest = request.TryGetAttribute(StunAttributeType.ChangeRequest, out _);

        Span<ushort> unknown = stackalloc ushort[8];
        int unknownCount = 0;
        if (hasChangeRequest && !discovery.HasAlternate)
        {
            // RFC 5780 §6: a server that cannot have the same ports on two addresses "MUST respond with a 420
            // (Unknown Attribute) to any Request with a CHANGE-REQUEST attribute".
            unknown[unknownCount++] = (ushort)StunAttributeType.ChangeRequest;
        }
        unknownCount += request.CollectUnknownComprehensionRequired(unknown[unknownCount..], natBehaviorDiscovery: true);
        if (unknownCount > 0)
        {
            var error = BeginError(response, request, StunErrorCode.UnknownAttribute);
            error.AddUnknownAttributes(unknown[..unknownCount]);
            return TurnAction.Respond(Finish(ref error, request, default), fiveTuple.Client, clientContext);
        }

        ChangeRequestFlags change = ChangeRequestFlags.None;
        if (hasChangeRequest && !request.TryGetChangeRequest(out change))
        {
            return TurnAction.Respond(WriteError(response, request, StunErrorCode.BadRequest, default), fiveTuple.Client, clientContext);
        }
        TransportAddress destination = fiveTuple.Client;
        if (request.TryGetAttribute(StunAttributeType.ResponsePort, out _))
        {
            if (!request.TryGetResponsePort(out ushort port))
            {
                return TurnAction.Respond(WriteError(response, request, StunErrorCode.BadRequest, default), fiveTuple.Client, clientContext);
            }
            if (request.HasAttribute(StunAttributeType.Padding))
            {
                // RFC 5780 §6.1: PADDING and RESPONSE-PORT together get 400.
                return TurnAction.Respond(WriteError(response, request, StunErrorCode.BadRequest, PaddingWithResponsePort, default),
                    fiveTuple.Client, clientContext);
            }
            // RFC 5780 §7.5: the response goes to the request's source IP address, on this port; never elsewhere.
            destination = fiveTuple.Client.WithPort(port);
        }

        // RFC 5780 §6.1 Table 1: "change IP" and "change port" flip the address and the port the answer leaves from.
        var source = (ResponseSource)((((change & ChangeRequestFlags.ChangeIP) != 0) ? 2 : 0) | (((change & ChangeRequestFlags.ChangePort) != 0) ? 1 : 0));
        int sourceRole = role ^ (int)source;

        var writer = BeginSuccess(response, request);
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, fiveTuple.Client);
        // RFC 5780 §6.1: both MAPPED-ADDRESS and XOR-MAPPED-ADDRESS.
        writer.AddAddress(StunAttributeType.MappedAddress, fiveTuple.Client);
        // RFC 5780 §7.3: the address and port the response is sent from.
        writer.AddAddress(StunAttributeType.ResponseOrigin, discovery.TransportAddressOf(sourceRole));
        if (discovery.HasAlternate)
        {
            // RFC 5780 §7.4: where "change IP" and "change port" together would have answered from.
            writer.AddAddress(StunAttributeType.OtherAddress, discovery.TransportAddressOf(role ^ 3));
        }
        if (request.TryGetAttribute(StunAttributeType.Padding, out ReadOnlySpan<byte> padding))
        {
            writer.AddPadding(PaddingLength(writer.Length, request, padding.Length, response.Length));
        }
        return TurnAction.RespondFrom(source, Finish(ref writer, request, default), destination, clientContext);
    }

    /// <summary>
    /// RFC 5780 §6.1: a request with PADDING gets PADDING back, and §7.6 would make it as long as the MTU.
    /// That would let anyone with a spoofed source address get a large answer for a small request, so the
    /// answer is padded only to the size of the request that asked for it (never beyond the response buffer):
    /// the client pays for the fragmentation test it runs.
    /// </summary>
    private static int PaddingLength(int writtenSoFar, in StunMessageReader request, int requestPadding, int bufferLength)
    {
        int tail = StunConstants.AttributeHeaderLength + (request.HasFingerprint ? StunConstants.AttributeHeaderLength + StunConstants.FingerprintLength : 0);
        int limit = Math.Min(bufferLength, request.Message.Length) - writtenSoFar - tail;
        return Math.Clamp(Math.Min(requestPadding, limit), 0, int.MaxValue) & ~3;
    }
}
