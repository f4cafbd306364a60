using System.Buffers.Binary;
using System.Text;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Turn.Tests.Infrastructure;

/// <summary>
/// A TURN client on one five-tuple. <see cref="Send"/> follows the long-term credential dance of RFC 8489
/// §9.2.5: a 401 or 438 teaches it REALM, NONCE and PASSWORD-ALGORITHMS, and it retries with a new transaction.
/// </summary>
public sealed class TurnTestClient
{
    private readonly TurnTestHost _host;

    public TurnTestClient(TurnTestHost host, FiveTuple fiveTuple, string? username, string? password, ClientAuthMode mode)
    {
        _host = host;
        FiveTuple = fiveTuple;
        Username = username;
        Password = password;
        Mode = mode;
    }

    public FiveTuple FiveTuple { get; }
    public string? Username { get; }
    public string? Password { get; }
    public ClientAuthMode Mode { get; }
    public object ClientContext { get; } = new();

    public byte[]? Realm { get; set; }
    public byte[]? Nonce { get; set; }
    public byte[]? PasswordAlgorithms { get; set; }

    public TurnAction LastAction { get; private set; }

    public bool HasCredentials => Username is not null && Password is not null;

    public byte[] Md5Key => LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, Username!, RealmString, Password!);
    public byte[] Sha256Key => LongTermCredential.DeriveKey(PasswordAlgorithm.Sha256, Username!, RealmString, Password!);
    public byte[] Key => Mode == ClientAuthMode.Sha256 ? Sha256Key : Md5Key;

    private string RealmString => Realm is null ? TurnTestHost.Realm : Encoding.UTF8.GetString(Realm);

    public Allocation? Allocation => _host.Server.FindAllocation(FiveTuple);

    /// <summary>The credential attributes this client would put on its next request, or null before a challenge.</summary>
    public StunAuth? CurrentAuth()
    {
        if (!HasCredentials || Nonce is null)
        {
            return null;
        }
        var auth = new StunAuth
        {
            Realm = Realm,
            Nonce = Nonce,
            Key = Key,
        };
        if (Mode == ClientAuthMode.Md5Userhash)
        {
            auth.Userhash = LongTermCredential.ComputeUserhash(Username!, RealmString);
        }
        else
        {
            auth.Username = Username;
        }
        if (Mode == ClientAuthMode.Sha256)
        {
            auth.PasswordAlgorithms = PasswordAlgorithms;
            auth.PasswordAlgorithm = PasswordAlgorithm.Sha256;
            auth.Sha256Integrity = true;
        }
        return auth;
    }

    /// <summary>Sends the request once, with whatever credentials the client holds.</summary>
    public StunResponse SendOnce(StunRequest request) => SendRaw(request.Encode(CurrentAuth()))
        ?? throw new InvalidOperationException($"no answer to {request.Method}");

    /// <summary>Sends the request, learning from a 401 or 438 and retrying with a new transaction.</summary>
    public StunResponse Send(StunRequest request)
    {
        bool authenticatedTry = CurrentAuth() is not null;
        StunResponse response = SendOnce(request);
        for (int retries = 0; retries < 2 && HasCredentials; retries++)
        {
            bool retry = response.ErrorCode == StunErrorCode.StaleNonce
                         || (response.ErrorCode == StunErrorCode.Unauthenticated && !authenticatedTry);
            if (!retry)
            {
                break;
            }
            LearnChallenge(response);
            authenticatedTry = true;
            response = SendOnce(request.NewTransaction());
        }
        return response;
    }

    public void LearnChallenge(StunResponse challenge)
    {
        Realm = challenge.Get(StunAttributeType.Realm);
        Nonce = challenge.Get(StunAttributeType.Nonce);
        PasswordAlgorithms = challenge.Get(StunAttributeType.PasswordAlgorithms);
    }

    /// <summary>Feeds raw bytes to the server; returns the message written back to this client, if any.</summary>
    public StunResponse? SendRaw(byte[] packet)
    {
        var response = new byte[TurnServer.MinResponseBufferLength];
        TurnAction action = _host.Server.HandleClientPacket(FiveTuple, ClientContext, packet, response);
        LastAction = action;
        if (action.Kind != TurnActionKind.SendToClient)
        {
            return null;
        }
        Assert.True(action.InResponseBuffer);
        Assert.Equal(FiveTuple.Client, action.Destination);
        Assert.Same(ClientContext, action.ClientContext);
        return new StunResponse(action.GetBytes(packet, response));
    }

    /// <summary>Feeds raw bytes to the server and returns the action (for indications and ChannelData).</summary>
    public TurnAction Handle(byte[] packet, out byte[] response)
    {
        response = new byte[TurnServer.MinResponseBufferLength];
        TurnAction action = _host.Server.HandleClientPacket(FiveTuple, ClientContext, packet, response);
        LastAction = action;
        return action;
    }

    public static StunRequest AllocateRequest() => new StunRequest(StunMethod.Allocate).RequestedTransport();

    public StunResponse Allocate(Action<StunRequest>? configure = null)
    {
        StunRequest request = AllocateRequest();
        configure?.Invoke(request);
        return Send(request);
    }

    /// <summary>Allocates and asserts success.</summary>
    public Allocation AllocateOrFail(Action<StunRequest>? configure = null)
    {
        StunResponse response = Allocate(configure);
        Assert.True(response.IsSuccess, $"Allocate failed: {response}");
        return Allocation ?? throw new InvalidOperationException("no allocation after a successful Allocate");
    }

    public StunResponse Refresh(uint? lifetime = null)
    {
        var request = new StunRequest(StunMethod.Refresh);
        if (lifetime is { } seconds)
        {
            request.Lifetime(seconds);
        }
        return Send(request);
    }

    public StunResponse CreatePermission(params TransportAddress[] peers)
    {
        var request = new StunRequest(StunMethod.CreatePermission);
        foreach (TransportAddress peer in peers)
        {
            request.XorPeerAddress(peer);
        }
        return Send(request);
    }

    public StunResponse ChannelBind(ushort channel, TransportAddress peer) =>
        Send(new StunRequest(StunMethod.ChannelBind).ChannelNumber(channel).XorPeerAddress(peer));

    public static byte[] SendIndication(TransportAddress peer, byte[] payload) =>
        new StunRequest(StunMethod.Send, StunClass.Indication).XorPeerAddress(peer).Data(payload).Encode();

    public static byte[] ChannelDataMessage(ushort channel, byte[] payload, int padding = 0)
    {
        var message = new byte[ChannelData.HeaderLength + payload.Length + padding];
        BinaryPrimitives.WriteUInt16BigEndian(message, channel);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)payload.Length);
        payload.CopyTo(message, ChannelData.HeaderLength);
        return message;
    }
}
