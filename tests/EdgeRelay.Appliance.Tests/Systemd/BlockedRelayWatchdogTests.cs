using System.Net;
using System.Net.Sockets;
using EdgeRelay.Appliance.Systemd;
using EdgeRelay.Net;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Appliance.Tests.Systemd;

/// <summary>
/// The watchdog against a real engine on loopback: with the core's lock held by the test, a datagram
/// parks the UDP loop inside the core and the timer tick waits on the same lock, so the pings stop; when
/// the lock is released, they resume. The watchdog's checks are run by the test (its own timer is on a
/// clock that never moves), and every wait is bounded; no duration is asserted.
/// </summary>
public sealed class BlockedRelayWatchdogTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(SocketBackend.Auto)] // io_uring where the kernel allows it
    [InlineData(SocketBackend.RecvMmsg)]
    public async Task With_the_relay_loop_blocked_on_purpose_the_watchdog_pings_stop_and_resume_after(SocketBackend backend)
    {
        int firstPort = 47000 + (Environment.ProcessId % 40 * 20) + (backend == SocketBackend.Auto ? 0 : 10);
        var options = new TurnServerOptions
        {
            Realm = "edgerelay.test",
            RelayAddressIPv4 = IPAddress.Loopback,
            RelayPortMin = firstPort,
            RelayPortMax = firstPort + 9,
            AllowAnonymous = true,
            PeerPolicy = new PeerAddressPolicy(allowLoopback: true),
        };
        await using var engine = new RelayEngine(options, TimeProvider.System, backend: backend, loops: 1);
        engine.Start([new IPEndPoint(IPAddress.Loopback, 0)]);
        IPEndPoint server = engine.LocalEndPoints[0];

        var notifier = new RecordingNotifier();
        using var watchdog = new SystemdWatchdog(notifier, new RelayEngineProgress(engine), TimeSpan.FromSeconds(30),
            new ManualTimeProvider(), NullLogger<SystemdWatchdog>.Instance);
        await watchdog.StartAsync(CancellationToken.None);

        // Healthy: the loop and the tick move, so a check pings.
        WaitUntilEveryCounterGrows(engine);
        watchdog.Check();
        Assert.Equal(1, notifier.Count("WATCHDOG=1"));

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int pings;
        lock (engine.Gate)
        {
            client.SendTo(BindingRequest(), server);
            WaitUntilTheLoopStopsTurning(engine);
            // This check may still ping: the loop and the tick may have moved between the last ping and
            // the block. From here on neither can move, so no check may ping.
            watchdog.Check();
            pings = notifier.Count("WATCHDOG=1");
            for (int i = 0; i < 3; i++)
            {
                Thread.Sleep(300); // longer than an idle loop's turn, so a loop that could turn would have
                watchdog.Check();
            }
            Assert.Equal(pings, notifier.Count("WATCHDOG=1"));
            Assert.StartsWith("STATUS=stalled: event loop 0", notifier.LastStatus());
        }

        // Released: the loop answers the Binding request and turns again, the tick runs, the pings resume.
        var response = new byte[512];
        client.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        int length = client.Receive(response);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(response.AsSpan(0, length), out StunMessageReader reader));
        Assert.Equal(StunClass.SuccessResponse, reader.Class);
        WaitUntilEveryCounterGrows(engine);
        watchdog.Check();
        Assert.Equal(pings + 1, notifier.Count("WATCHDOG=1"));
        Assert.StartsWith("STATUS=relaying: ", notifier.LastStatus());
        await watchdog.StopAsync(CancellationToken.None);
    }

    private static byte[] BindingRequest()
    {
        var buffer = new byte[64];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, Guid.NewGuid().ToByteArray().AsSpan(0, 12));
        return buffer[..writer.Length];
    }

    private static void WaitUntilEveryCounterGrows(RelayEngine engine)
    {
        long[] before = engine.ProgressSnapshot();
        DateTime deadline = DateTime.UtcNow + Patience;
        while (!engine.ProgressSnapshot().Zip(before).All(p => p.First > p.Second))
        {
            Assert.True(DateTime.UtcNow < deadline, "the engine's counters did not all move");
            Thread.Sleep(50);
        }
    }

    /// <summary>An idle loop turns at least every 200 ms: a count that holds still for 600 ms is parked on the lock.</summary>
    private static void WaitUntilTheLoopStopsTurning(RelayEngine engine)
    {
        DateTime deadline = DateTime.UtcNow + Patience;
        long turns = engine.ProgressSnapshot()[0];
        while (true)
        {
            Thread.Sleep(600);
            long now = engine.ProgressSnapshot()[0];
            if (now == turns)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, "the loop kept turning with the core's lock held");
            turns = now;
        }
    }
}
