using System.Net;
using System.Net.Sockets;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Appliance.Tests.Leds;
using EdgeRelay.Net;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Appliance.Tests.Status;

/// <summary>The observer against a real relay engine on loopback, sampled by hand with a stepped clock.</summary>
public sealed class RelayObserverTests
{
    private readonly ManualTimeProvider _clock = new();

    private static RelayEngine Engine(int maxAllocations) => new(new TurnServerOptions
    {
        Realm = "edgerelay.test",
        RelayAddressIPv4 = IPAddress.Loopback,
        RelayPortMin = 49200 + Environment.ProcessId % 40 * 20,
        RelayPortMax = 49200 + Environment.ProcessId % 40 * 20 + 19,
        AllowAnonymous = true,
        PeerPolicy = new PeerAddressPolicy(allowLoopback: true),
        MaxAllocations = maxAllocations,
    }, TimeProvider.System, loops: 1);

    [Fact]
    public async Task An_engine_without_listeners_is_a_fault_with_blink_code_1()
    {
        await using RelayEngine engine = Engine(10);
        var model = new StatusModel(_clock);
        using var observer = new RelayObserver(engine, model, _clock);

        observer.Sample();

        Assert.Equal(new LedSignal(LedMode.Fault, 1), model.Current.Led);
        Assert.Contains(StatusReasons.NoListener, model.Current.Reasons);
    }

    [Fact]
    public async Task An_engine_without_listeners_that_awaits_its_configuration_is_no_fault()
    {
        await using RelayEngine engine = Engine(10);
        var model = new StatusModel(_clock);
        bool awaiting = true;
        using var observer = new RelayObserver(engine, model, _clock, () => awaiting);

        observer.Sample();
        Assert.DoesNotContain(StatusReasons.NoListener, model.Current.Reasons);

        // The configuration came, and still nothing is bound: now that is F1.
        awaiting = false;
        observer.Sample();
        Assert.Contains(StatusReasons.NoListener, model.Current.Reasons);
    }

    [Fact]
    public async Task Traffic_makes_it_relaying_and_allocations_near_the_limit_degrade_it()
    {
        await using RelayEngine engine = Engine(maxAllocations: 2);
        engine.Start([new IPEndPoint(IPAddress.Loopback, 0)]);
        IPEndPoint server = engine.LocalEndPoints[0];
        var model = new StatusModel(_clock);
        model.SetStarting(false);
        using var observer = new RelayObserver(engine, model, _clock);
        observer.Sample();
        Assert.Equal(Health.HealthyIdle, model.Current.Health);

        using var client = NewSocket();
        using var peer = NewSocket();
        var peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);
        Request(client, server, StunMethod.Allocate, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24));
        Request(client, server, StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress));
        var send = new byte[256];
        var writer = new StunMessageWriter(send, StunMethod.Send, StunClass.Indication, new byte[12]);
        writer.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
        writer.AddAttribute(StunAttributeType.Data, "hello"u8);
        client.SendTo(send.AsSpan(0, writer.Length), SocketFlags.None, server);
        peer.Receive(new byte[64]);

        observer.Sample();
        Assert.Equal(Health.Relaying, model.Current.Health);

        // One allocation of two is 50 %; a second one is 100 %: at or over 90 % the box is degraded.
        using var second = NewSocket();
        Request(second, server, StunMethod.Allocate, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24));
        observer.Sample();
        Assert.Equal(Health.Degraded, model.Current.Health);
        Assert.Equal([StatusReasons.QuotaNearlyFull], model.Current.Reasons);
    }

    [Fact]
    public void Progress_has_advanced_only_when_every_counter_grew()
    {
        Assert.Equal(-1, RelayEngine.FirstStalled([1, 1, 1], [2, 2, 2]));
        Assert.Equal(1, RelayEngine.FirstStalled([1, 1, 1], [2, 1, 2]));
        Assert.Equal(0, RelayEngine.FirstStalled([5], [5]));
        Assert.Equal(-1, RelayEngine.FirstStalled([5], [5, 6]));
    }

    private static Socket NewSocket()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private delegate void Attributes(ref StunMessageWriter writer);

    private static void Request(Socket client, IPEndPoint server, StunMethod method, Attributes attributes)
    {
        var buffer = new byte[512];
        var writer = new StunMessageWriter(buffer, method, StunClass.Request, Guid.NewGuid().ToByteArray().AsSpan(0, 12));
        attributes(ref writer);
        client.SendTo(buffer.AsSpan(0, writer.Length), SocketFlags.None, server);
        int n = client.Receive(buffer);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(buffer.AsSpan(0, n), out StunMessageReader response));
        Assert.Equal(StunClass.SuccessResponse, response.Class);
    }
}
