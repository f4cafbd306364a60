using System.Net;
using System.Net.Sockets;
using EdgeRelay.Net.Streams;
using EdgeRelay.Net.Tests.Support;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Net.Tests;

/// <summary>
/// limits.maxConnections: connections opened and left idle cannot lock out a client that comes to relay
/// (the quietest one without an allocation makes room), and no connection that holds an allocation is cut.
/// </summary>
public sealed class StreamConnectionLimitTests
{
    private static readonly ListenerOptions Tcp = new(TransportProtocol.Tcp, new IPEndPoint(IPAddress.Loopback, 0));

    private static Task Binding(StreamClient client) => client.RequestAsync(StunMethod.Binding, (ref StunMessageWriter _) => { });

    [Fact]
    public async Task At_the_limit_a_new_client_takes_the_place_of_the_quietest_connection_without_an_allocation()
    {
        await using var engine = new RelayEngine(AnonymousRelay.Options(64000, 20), TimeProvider.System, backend: SocketBackend.Portable,
            streamLimits: new StreamLimits { MaxConnections = 3 });
        engine.Start([Tcp]);
        IPEndPoint tcp = engine.StreamEndPoints[0].EndPoint;
        using StreamClient quietest = await StreamClient.ConnectAsync(tcp);
        await Binding(quietest);
        using StreamClient calling = await StreamClient.ConnectAsync(tcp);
        await calling.AllocateAsync();
        using StreamClient recent = await StreamClient.ConnectAsync(tcp);
        await Binding(recent);
        Assert.Equal(3, engine.StreamConnectionCount);

        // Full: the newcomer is served, and the connection quiet longest without an allocation is closed.
        using StreamClient newcomer = await StreamClient.ConnectAsync(tcp);
        await Binding(newcomer);
        Assert.Null(await quietest.ReadMessageOrCloseAsync());
        Assert.Equal(1, engine.EvictedConnections);
        Assert.Equal(0, engine.RefusedConnections);

        // The connection older than both that holds an allocation was passed over: it still relays.
        await calling.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter _) => { });
        await Binding(recent);
        Assert.True(await Eventually.TrueAsync(() => engine.StreamConnectionCount == 3));
    }

    [Fact]
    public async Task When_every_connection_holds_an_allocation_a_new_one_is_refused_and_no_call_is_cut()
    {
        await using var engine = new RelayEngine(AnonymousRelay.Options(64100, 20), TimeProvider.System, backend: SocketBackend.Portable,
            streamLimits: new StreamLimits { MaxConnections = 2 });
        engine.Start([Tcp]);
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
