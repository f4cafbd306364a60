using System.Net;
using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Turn.Tests.Infrastructure;

/// <summary>One <see cref="TurnServer"/> with a manual clock and a fake binder, and the helpers to talk to it.</summary>
public sealed class TurnTestHost
{
    public const string Realm = "edgerelay.test";
    public const string AlicePassword = "correct horse battery staple";
    public const string BobPassword = "hunter2";

    public static readonly IPAddress RelayBindAddress = IPAddress.Any;
    public static readonly IPAddress AdvertisedRelayAddress = IPAddress.Parse("198.51.100.7");
    public static readonly TransportAddress ServerAddress = Address("192.0.2.1", 3478);

    public static readonly IReadOnlyDictionary<string, string> DefaultUsers = new Dictionary<string, string>
    {
        ["alice"] = AlicePassword,
        ["bob"] = BobPassword,
    };

    /// <param name="log">Where the server logs to; none by default, so that no test pays for formatting it does not read.</param>
    public TurnTestHost(TurnServerOptions? options = null, int randomSeed = 42, RecordingLogger? log = null)
    {
        Options = options ?? CreateOptions();
        Server = new TurnServer(Options, Time, Binder, log, random: new Random(randomSeed));
    }

    public ManualTimeProvider Time { get; } = new();
    public FakeRelayBinder Binder { get; } = new();
    public TurnServerOptions Options { get; }
    public TurnServer Server { get; }

    public static TurnServerOptions CreateOptions(
        bool allowAnonymous = false,
        int relayPortMin = 49152,
        int relayPortMax = 65535,
        int maxAllocations = 2000,
        int maxAllocationsPerUser = 200,
        int maxPermissionsPerAllocation = 64,
        int maxChannelsPerAllocation = 64,
        IReadOnlyDictionary<string, string>? users = null,
        IReadOnlyList<string>? sharedSecrets = null,
        PeerAddressPolicy? peerPolicy = null,
        TimeSpan? nonceLifetime = null,
        IPAddress? relayAddressIPv6 = null,
        bool relayIPv4 = true,
        IReadOnlyList<TransportAddress>? alternateServers = null,
        int challengeBurstPerAddress = 200,
        double challengesPerSecondPerAddress = 50,
        int failedLoginBurstPerUser = 20,
        double failedLoginsPerMinutePerUser = 10,
        int requestBurstPerAllocation = 200,
        double requestsPerSecondPerAllocation = 20) =>
        new()
        {
            Realm = Realm,
            RelayAddressIPv4 = relayIPv4 ? RelayBindAddress : null,
            AdvertisedRelayAddressIPv4 = relayIPv4 ? AdvertisedRelayAddress : null,
            RelayAddressIPv6 = relayAddressIPv6,
            RelayPortMin = relayPortMin,
            RelayPortMax = relayPortMax,
            Users = users ?? DefaultUsers,
            SharedSecrets = sharedSecrets ?? [],
            AllowAnonymous = allowAnonymous,
            MaxAllocations = maxAllocations,
            MaxAllocationsPerUser = maxAllocationsPerUser,
            MaxPermissionsPerAllocation = maxPermissionsPerAllocation,
            MaxChannelsPerAllocation = maxChannelsPerAllocation,
            PeerPolicy = peerPolicy ?? PeerAddressPolicy.Default,
            NonceLifetime = nonceLifetime ?? TimeSpan.FromMinutes(10),
            AlternateServers = alternateServers ?? [],
            ChallengeBurstPerAddress = challengeBurstPerAddress,
            ChallengesPerSecondPerAddress = challengesPerSecondPerAddress,
            FailedLoginBurstPerUser = failedLoginBurstPerUser,
            FailedLoginsPerMinutePerUser = failedLoginsPerMinutePerUser,
            RequestBurstPerAllocation = requestBurstPerAllocation,
            RequestsPerSecondPerAllocation = requestsPerSecondPerAllocation,
        };

    public static TransportAddress Address(string ip, int port) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), port);

    public static FiveTuple FiveTuple(string clientIp = "203.0.113.50", int clientPort = 40000, TransportProtocol protocol = TransportProtocol.Udp) =>
        new(Address(clientIp, clientPort), ServerAddress, protocol);

    /// <summary>A client with alice's credentials unless told otherwise; null user name means no credentials.</summary>
    public TurnTestClient Client(string? username = "alice", string? password = null, string clientIp = "203.0.113.50", int clientPort = 40000,
        TransportProtocol protocol = TransportProtocol.Udp, ClientAuthMode mode = ClientAuthMode.Md5) =>
        new(this, FiveTuple(clientIp, clientPort, protocol), username,
            password ?? (username is not null && DefaultUsers.TryGetValue(username, out string? known) ? known : null), mode);

    public TurnTestClient Client(FiveTuple fiveTuple, string? username = "alice", string? password = null, ClientAuthMode mode = ClientAuthMode.Md5) =>
        new(this, fiveTuple, username,
            password ?? (username is not null && DefaultUsers.TryGetValue(username, out string? known) ? known : null), mode);

    /// <summary>TURN REST credentials: user name "EXPIRY:name", password base64(HMAC-SHA1(secret, user name)).</summary>
    public static (string Username, string Password) RestCredential(string secret, long expiryUnixSeconds, string? name = "rest-user")
    {
        string username = name is null ? expiryUnixSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{expiryUnixSeconds}:{name}";
        string password = Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username)));
        return (username, password);
    }

    public long NowUnixSeconds => Time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Hands a datagram from <paramref name="peer"/> to the allocation, with the head- and tailroom the core asks for.</summary>
    public PeerDelivery DeliverFromPeer(Allocation allocation, TransportAddress peer, byte[] payload, byte tailFill = 0xEE)
    {
        const int offset = TurnServer.PeerDataHeadroom + 8;
        var buffer = new byte[offset + payload.Length + TurnServer.PeerDataTailroom + 8];
        buffer.AsSpan().Fill(tailFill);
        payload.CopyTo(buffer, offset);
        TurnAction action = Server.HandlePeerDatagram(allocation, peer, buffer, offset, payload.Length);
        return new PeerDelivery(action, buffer, offset);
    }
}
