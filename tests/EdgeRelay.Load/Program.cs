using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using EdgeRelay.Load;
using EdgeRelay.Stun;

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
    if (options.User.Length == 0)
    {
        throw new ArgumentException("--user and --password are required");
    }
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"edgerelay-load: {e.Message}\n\n{LoadOptions.Usage}");
    return 64;
}

if (options.Churn)
{
    return new ChurnRun(options).Execute();
}

ServerProcess? server = options.ServerPid is int pid ? new ServerProcess(pid) : null;
long rssIdle = server?.RssKilobytes() ?? -1;
using var peer = new EchoPeer(options.Peer);
var peerAddress = TransportAddress.FromIPEndPoint(peer.EndPoint);

// Set-up: allocations one after another, as fast as the server answers (the allocation rate).
var clients = new List<TurnClient>(options.Allocations);
var parked = new List<TurnClient>();
var setup = Stopwatch.StartNew();
try
{
    for (int i = 0; i < options.Allocations; i++)
    {
        for (int attempt = 1; ; attempt++)
        {
            var client = new TurnClient(options.Server, options.User, options.Password);
            try
            {
                client.Allocate();
                clients.Add(client);
                break;
            }
            catch (AllocationMismatchException) when (attempt < 5)
            {
                // Keep the socket open until the end, so that the next one gets another port.
                parked.Add(client);
            }
        }
    }
    double allocationSeconds = setup.Elapsed.TotalSeconds;
    foreach (TurnClient client in clients)
    {
        client.BindChannel(peerAddress);
    }
    long rssAllocated = server?.RssKilobytes() ?? -1;

    var run = new TrafficRun(clients, options);
    TrafficResult result = run.Execute(server, peer);

    var line = new List<string>
    {
        $"allocations={options.Allocations}",
        $"allocations_per_s={options.Allocations / allocationSeconds:F0}",
        $"mode={(options.Rate > 0 ? "paced" : "saturate")}",
        $"size={options.Size}",
        $"sent={result.Sent}",
        $"received={result.Received}",
        $"loss_pct={result.LossPercent:F3}",
        $"relayed_pps={result.RelayedPacketsPerSecond:F0}",
        $"rtt_p50_ms={result.Latency.PercentileMilliseconds(50):F3}",
        $"rtt_p99_ms={result.Latency.PercentileMilliseconds(99):F3}",
        $"rtt_p999_ms={result.Latency.PercentileMilliseconds(99.9):F3}",
    };
    if (server is not null)
    {
        line.Add($"server_cpu_s={result.ServerCpuSeconds:F2}");
        line.Add($"server_cpu_us_per_packet={result.ServerCpuSeconds * 1e6 / Math.Max(1, result.RelayedPackets):F2}");
        line.Add($"rss_idle_kb={rssIdle}");
        line.Add($"rss_allocated_kb={rssAllocated}");
        line.Add($"rss_per_allocation_b={(rssAllocated - rssIdle) * 1024.0 / options.Allocations:F0}");
    }
    Console.WriteLine(string.Join(' ', line.Select(l => l.ToString(CultureInfo.InvariantCulture))));

    if (options.Hold)
    {
        Console.Out.Flush();
        Console.In.ReadToEnd();
    }
}
catch (Exception e) when (e is InvalidOperationException or SocketException)
{
    Console.Error.WriteLine($"edgerelay-load: {e.Message} (after {clients.Count} clients)");
    return 1;
}
finally
{
    foreach (TurnClient client in clients)
    {
        client.Release();
        client.Dispose();
    }
    parked.ForEach(c => c.Dispose());
}
return 0;

internal sealed record TrafficResult(long Sent, long Received, long RelayedPackets, double Seconds, double ServerCpuSeconds, LatencyHistogram Latency)
{
    public double LossPercent => Sent == 0 ? 0 : 100.0 * (Sent - Received) / Sent;
    public double RelayedPacketsPerSecond => RelayedPackets / Seconds;
}

/// <summary>
/// ChannelData through every allocation to the echo peer and back. Each packet carries the time it was
/// sent and the measurement round it belongs to, so that warm-up traffic and late echoes are told apart.
/// </summary>
internal sealed class TrafficRun(List<TurnClient> clients, LoadOptions options)
{
    private readonly LatencyHistogram _latency = new();
    private volatile bool _sending = true;
    private volatile int _phase; // 0 warm-up, 1 measured, 2 after
    private long _sent;
    private long _received;

    public TrafficResult Execute(ServerProcess? server, EchoPeer peer)
    {
        var receivers = clients.Select((c, i) => Task.Run(() => ReceiveLoop(c))).ToList();
        Thread? sender = null;
        if (options.Rate > 0)
        {
            sender = new Thread(PacedSender) { IsBackground = true, Name = "paced sender" };
            sender.Start();
        }
        else
        {
            foreach (TurnClient client in clients)
            {
                for (int i = 0; i < options.Window; i++)
                {
                    Send(client, new byte[4 + options.Size]);
                }
            }
        }

        Thread.Sleep(1000);
        double cpuStart = server?.CpuSeconds() ?? 0;
        long echoedStart = peer.Echoed;
        var measured = Stopwatch.StartNew();
        _phase = 1;
        Thread.Sleep(TimeSpan.FromSeconds(options.Duration));
        _phase = 2;
        double seconds = measured.Elapsed.TotalSeconds;
        double cpuEnd = server?.CpuSeconds() ?? 0;
        long echoed = peer.Echoed - echoedStart;
        _sending = false;
        sender?.Join();
        // Late echoes of the measured round still count as received, not lost.
        Thread.Sleep(1000);
        long received = Interlocked.Read(ref _received);
        foreach (TurnClient client in clients)
        {
            client.Socket.ReceiveTimeout = 1;
        }
        return new TrafficResult(Interlocked.Read(ref _sent), received, echoed + received, seconds, cpuEnd - cpuStart, _latency);
    }

    private void PacedSender()
    {
        byte[] frame = new byte[4 + options.Size];
        long interval = Stopwatch.Frequency / options.Rate;
        long next = Stopwatch.GetTimestamp();
        while (_sending)
        {
            foreach (TurnClient client in clients)
            {
                Send(client, frame);
            }
            next += interval;
            long wait = next - Stopwatch.GetTimestamp();
            if (wait > 0)
            {
                Thread.Sleep(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
            }
        }
    }

    private void Send(TurnClient client, byte[] frame)
    {
        ChannelData.WriteHeader(frame, TurnClient.Channel, options.Size);
        BinaryPrimitives.WriteInt64LittleEndian(frame.AsSpan(4), Stopwatch.GetTimestamp());
        int phase = _phase;
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(12), phase);
        try
        {
            client.Socket.Send(frame);
            if (phase == 1)
            {
                Interlocked.Increment(ref _sent);
            }
        }
        catch (SocketException)
        {
            // The kernel's buffer was full: the packet is lost, and counted as such.
            if (phase == 1)
            {
                Interlocked.Increment(ref _sent);
            }
        }
    }

    private async Task ReceiveLoop(TurnClient client)
    {
        byte[] buffer = new byte[4 + options.Size + 64];
        byte[] frame = new byte[4 + options.Size];
        while (true)
        {
            int n;
            try
            {
                n = await client.Socket.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            if (!ChannelData.TryRead(buffer.AsSpan(0, n), out _, out int length) || length < 16)
            {
                continue;
            }
            long sentAt = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(4));
            int phase = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(12));
            if (phase == 1)
            {
                Interlocked.Increment(ref _received);
                _latency.Record((Stopwatch.GetTimestamp() - sentAt) * 1_000_000 / Stopwatch.Frequency);
            }
            if (options.Rate == 0 && _sending)
            {
                Send(client, frame);
            }
        }
    }
}
