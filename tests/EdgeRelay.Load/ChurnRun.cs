using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using EdgeRelay.Stun;

namespace EdgeRelay.Load;

/// <summary>
/// Churn for the soak test: allocations are created at a steady rate, each binds a channel to the echo
/// peer, carries paced ChannelData for its lifetime and is then released with Refresh LIFETIME 0, or, for
/// the share that vanishes, its socket is closed without a word, so that the server must expire it.
/// One thread creates and retires (in order, as a client would); one thread paces the traffic; each
/// allocation has its own receive loop. Loss is counted per allocation once it is retired, after a grace
/// second for late echoes, so that the figure is exact, not estimated.
/// </summary>
internal sealed class ChurnRun(LoadOptions options)
{
    private static readonly long Grace = Stopwatch.Frequency;

    private readonly LatencyHistogram _latency = new();
    private readonly List<ChurnSession> _sessions = [];
    private readonly Random _random = new(8);
    private volatile ChurnSession[] _sending = [];
    private volatile bool _running = true;
    private EchoPeer? _peer;
    private TransportAddress _peerAddress;
    private long _created;
    private long _createdTcp;
    private long _released;
    private long _releaseFailures;
    private long _vanished;
    private long _failed;
    private long _mismatches;
    private long _sent;
    private long _received;

    public int Execute()
    {
        using var peer = new EchoPeer(options.Peer);
        _peer = peer;
        _peerAddress = TransportAddress.FromIPEndPoint(peer.EndPoint);
        var sender = new Thread(PacedSender) { IsBackground = true, Name = "churn sender" };
        sender.Start();

        var clock = Stopwatch.StartNew();
        long start = Stopwatch.GetTimestamp();
        long end = start + (long)(options.Duration * Stopwatch.Frequency);
        long interval = (long)(options.Lifetime / Math.Max(1, options.Allocations) * Stopwatch.Frequency);
        long reportInterval = (long)(options.Report * Stopwatch.Frequency);
        long nextCreate = start;
        long nextReport = start + reportInterval;
        while (true)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= end)
            {
                break;
            }
            RetireDue(now);
            if (now - nextCreate > Stopwatch.Frequency)
            {
                // The server (or this machine) stalled for more than a second: pace on from now rather than
                // make up for it in a burst.
                nextCreate = now;
            }
            while (nextCreate <= now)
            {
                Create(now);
                nextCreate += interval;
            }
            if (now >= nextReport)
            {
                Report(clock.Elapsed.TotalSeconds, final: false);
                nextReport += reportInterval;
            }
            Thread.Sleep(5);
        }

        // Drain: stop the traffic of every allocation, wait for the last echoes, retire them all.
        long stop = Stopwatch.GetTimestamp();
        foreach (ChurnSession session in _sessions)
        {
            session.SendUntil = Math.Min(session.SendUntil, stop);
            session.RetireAt = Math.Min(session.RetireAt, stop + Grace);
        }
        Thread.Sleep(TimeSpan.FromSeconds(1.1));
        RetireDue(long.MaxValue);
        _running = false;
        sender.Join();
        Report(clock.Elapsed.TotalSeconds, final: true);
        return 0;
    }

    private void Create(long now)
    {
        bool tcp = _random.NextDouble() * 100 < options.TcpPercent;
        for (int attempt = 1; attempt <= 5; attempt++)
        {
            TurnClient client;
            try
            {
                client = new TurnClient(options.Server, options.User, options.Password, tcp);
            }
            catch (SocketException e)
            {
                Fail(e.Message);
                return;
            }
            try
            {
                client.Allocate();
                client.BindChannel(_peerAddress);
            }
            catch (AllocationMismatchException)
            {
                // The port of this fresh socket is one a vanished client had: its allocation still lives.
                Interlocked.Increment(ref _mismatches);
                client.Dispose();
                continue;
            }
            catch (Exception e) when (e is InvalidOperationException or SocketException)
            {
                Fail(e.Message);
                client.Release();
                client.Dispose();
                return;
            }
            double lifetime = options.Lifetime * (0.5 + _random.NextDouble());
            long sendUntil = now + (long)(lifetime * Stopwatch.Frequency);
            var session = new ChurnSession(client, sendUntil, sendUntil + Grace, _random.NextDouble() * 100 < options.VanishPercent);
            if (tcp)
            {
                Interlocked.Increment(ref _createdTcp);
            }
            session.Receiver = Task.Run(() => ReceiveLoop(session));
            _sessions.Add(session);
            _sending = [.. _sessions];
            Interlocked.Increment(ref _created);
            return;
        }
        Fail("437 Allocation Mismatch five times in a row");
    }

    private void Fail(string message)
    {
        long failed = Interlocked.Increment(ref _failed);
        if (failed <= 10 || failed % 1000 == 0)
        {
            Console.Error.WriteLine($"edgerelay-load: churn: failure {failed}: {message}");
        }
    }

    private void RetireDue(long now)
    {
        bool changed = false;
        for (int i = _sessions.Count - 1; i >= 0; i--)
        {
            ChurnSession session = _sessions[i];
            if (session.RetireAt > now)
            {
                continue;
            }
            _sessions.RemoveAt(i);
            changed = true;
            session.Stop.Cancel();
            session.Receiver?.Wait();
            long sent = Interlocked.Read(ref session.Sent);
            long received = Interlocked.Read(ref session.Received);
            Interlocked.Add(ref _sent, sent);
            Interlocked.Add(ref _received, Math.Min(sent, received));
            if (session.Vanishes)
            {
                Interlocked.Increment(ref _vanished);
            }
            else if (session.Client.Release())
            {
                Interlocked.Increment(ref _released);
            }
            else
            {
                Interlocked.Increment(ref _releaseFailures);
            }
            session.Client.Dispose();
            session.Stop.Dispose();
        }
        if (changed)
        {
            _sending = [.. _sessions];
        }
    }

    private void Report(double seconds, bool final)
    {
        long sent = Interlocked.Read(ref _sent);
        long received = Interlocked.Read(ref _received);
        var fields = new List<string>
        {
            $"churn={(final ? "done" : "running")}",
            $"t_s={seconds:F0}",
            $"active={_sessions.Count}",
            $"created={Interlocked.Read(ref _created)}",
            $"created_tcp={Interlocked.Read(ref _createdTcp)}",
            $"released={Interlocked.Read(ref _released)}",
            $"vanished={Interlocked.Read(ref _vanished)}",
            $"release_failures={Interlocked.Read(ref _releaseFailures)}",
            $"failed={Interlocked.Read(ref _failed)}",
            $"mismatches={Interlocked.Read(ref _mismatches)}",
            $"sent={sent}",
            $"received={received}",
            $"lost={sent - received}",
            $"loss_pct={(sent == 0 ? 0 : 100.0 * (sent - received) / sent):F3}",
            $"rtt_p99_ms={_latency.PercentileMilliseconds(99):F3}",
            $"peer_echoed={_peer?.Echoed ?? 0}",
        };
        Console.WriteLine(string.Join(' ', fields.Select(f => f.ToString(CultureInfo.InvariantCulture))));
        Console.Out.Flush();
    }

    private void PacedSender()
    {
        // Over TCP, ChannelData is padded to a multiple of 4 bytes (RFC 8656 §12.5).
        byte[] frame = new byte[4 + ((options.Size + 3) & ~3)];
        long interval = Stopwatch.Frequency / Math.Max(1, options.Rate);
        long next = Stopwatch.GetTimestamp();
        while (_running)
        {
            long now = Stopwatch.GetTimestamp();
            foreach (ChurnSession session in _sending)
            {
                if (now >= session.SendUntil)
                {
                    continue;
                }
                ChannelData.WriteHeader(frame, TurnClient.Channel, options.Size);
                BinaryPrimitives.WriteInt64LittleEndian(frame.AsSpan(4), Stopwatch.GetTimestamp());
                try
                {
                    session.Client.Socket.Send(session.Client.Tcp ? frame : frame.AsSpan(0, 4 + options.Size));
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // A full kernel buffer: the packet is lost, and counted as such.
                }
                Interlocked.Increment(ref session.Sent);
            }
            next += interval;
            long wait = next - Stopwatch.GetTimestamp();
            if (wait > 0)
            {
                Thread.Sleep(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
            }
            else if (-wait > Stopwatch.Frequency)
            {
                next = Stopwatch.GetTimestamp();
            }
        }
    }

    private async Task ReceiveLoop(ChurnSession session)
    {
        byte[] buffer = new byte[Math.Max(2048, 4 + options.Size + 64)];
        CancellationToken stop = session.Stop.Token;
        while (true)
        {
            int n;
            try
            {
                n = session.Client.Tcp
                    ? await session.Client.ReceiveFrameAsync(buffer, stop).ConfigureAwait(false)
                    : await session.Client.Socket.ReceiveAsync(buffer, SocketFlags.None, stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            if (n == 0 && session.Client.Tcp)
            {
                return;
            }
            if (!ChannelData.TryRead(buffer.AsSpan(0, n), out _, out int length) || length < 16)
            {
                continue;
            }
            long sentAt = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(4));
            Interlocked.Increment(ref session.Received);
            _latency.Record((Stopwatch.GetTimestamp() - sentAt) * 1_000_000 / Stopwatch.Frequency);
        }
    }

    private sealed class ChurnSession(TurnClient client, long sendUntil, long retireAt, bool vanishes)
    {
        public long Sent;
        public long Received;

        public TurnClient Client { get; } = client;
        public long SendUntil { get; set; } = sendUntil;
        public long RetireAt { get; set; } = retireAt;
        public bool Vanishes { get; } = vanishes;
        public CancellationTokenSource Stop { get; } = new();
        public Task? Receiver { get; set; }
    }
}
