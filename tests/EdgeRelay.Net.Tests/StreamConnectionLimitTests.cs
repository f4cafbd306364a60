using System.Net;
using System.Net.Sockets;
using EdgeRelay.Net.Streams;
using EdgeRelay.Net.Tests.Support;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Net.Tests;

/// <summary>
/// limits.maxConnections: connections opened and left idle cannot lock out a client that comes to relay
/// (the oldest one without an allocation makes room), and no connection that holds an allocation is cut.
/// </summary>
public sealed class StreamConnectionLimitTests
{
    private static readonly ListenerOptions Tcp = new(TransportProtocol.Tcp, new IPEndPoint(IPAddress.Loopback, 0));

    /// <summary>An engine with one TCP listener and <paramref name="maxConnections"/>; relayed ports from <paramref name="basePort"/>.</summary>
    private static RelayEngine StartTcp(int basePort, int maxConnections)
    {
        var engine = new RelayEngine(AnonymousRelay.Options(basePort, 20), TimeProvider.System, backend: SocketBackend.Portable,
            streamLimits: new StreamLimits { MaxConnections = maxConnections });
        engine.Start([Tcp]);
        return engine;
    }

    private static Task Binding(StreamClient client) => client.RequestAsync(StunMethod.Binding, (ref StunMessageWriter _) => { });

    [Fact]
    public async Task At_the_limit_a_new_client_takes_the_place_of_the_oldest_connection_without_an_allocation()
    {
        await using RelayEngine engine = StartTcp(64000, maxConnections: 3);
        IPEndPoint tcp = engine.StreamEndPoints[0].EndPoint;
        using StreamClient oldest = await StreamClient.ConnectAsync(tcp);
        using StreamClient calling = await StreamClient.ConnectAsync(tcp);
        await calling.AllocateAsync();
        using StreamClient recent = await StreamClient.ConnectAsync(tcp);
        await Binding(recent);
        // The oldest speaks last: a flood that keeps its connections busy with Binding requests still goes first.
        await Binding(oldest);
        Assert.Equal(3, engine.StreamConnectionCount);

        // Full: the newcomer is served, and the connection accepted first of those without an allocation is closed.
        using StreamClient newcomer = await StreamClient.ConnectAsync(tcp);
        await Binding(newcomer);
        Assert.Null(await oldest.ReadMessageOrCloseAsync());
        Assert.Equal(1, engine.EvictedConnections);
        Assert.Equal(0, engine.RefusedConnections);

        // The connection that holds an allocation, older than the newest, was passed over: it still relays.
        await calling.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter _) => { });
        await Binding(recent);
        Assert.True(await Eventually.TrueAsync(() => engine.StreamConnectionCount == 3));
    }

    [Fact]
    public async Task When_every_connection_holds_an_allocation_a_new_one_is_refused_and_no_call_is_cut()
    {
        await using RelayEngine engine = StartTcp(64100, maxConnections: 2);
        IPEndPoint tcp = engine.StreamEndPoints[0].EndPoint;
        using StreamClient first = await StreamClient.ConnectAsync(tcp);
        await first.AllocateAsync();
        using StreamClient second = await StreamClient.ConnectAsync(tcp);
        await second.AllocateAsync();

        using StreamClient refused = await StreamClient.ConnectAsync(tcp);
        await refused.Socket.SendAsync(AnonymousRelay.Build(StunMethod.Binding, (ref StunMessageWriter _) => { }), SocketFlags.None);
        Assert.Null(await refused.ReadMessageOrCloseAsync());
        Assert.Equal(1, engine.RefusedConnections);
        Assert.Equal(0, engine.EvictedConnections);
        await first.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter _) => { });
        await second.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter _) => { });
        Assert.Equal(2, engine.Server.AllocationCount);
    }
}
