using System.Globalization;
using System.Net;

namespace EdgeRelay.Load;

/// <summary>The command line of edgerelay-load; see <see cref="Usage"/>.</summary>
internal sealed record LoadOptions
{
    public const string Usage = """
        edgerelay-load: N TURN allocations over UDP, each with a channel to a UDP echo peer, and traffic through them.

          --server IP:PORT       the TURN server (default 127.0.0.1:3478)
          --user NAME --password PASSWORD   long-term credentials
          --allocations N        allocations, one client socket each (default 10)
          --size BYTES           application bytes per packet, at least 16 (default 100)
          --rate PPS             packets per second per allocation, paced; 0 = saturate (default 50)
          --window N             with --rate 0: packets in flight per allocation (default 8)
          --duration SECONDS     measured time after a 1 s warm-up (default 10)
          --peer IP              where the echo peer listens (default 127.0.0.1)
          --server-pid PID       read the server's CPU time and RSS from /proc/PID
          --hold                 after the measurement, keep the allocations open until stdin closes
          --churn                churn mode (scripts/soak.sh): for --duration seconds, keep about --allocations
                                 allocations in flight, each created, carrying --rate pps for --lifetime seconds
                                 and then released (Refresh LIFETIME 0), so new ones come at allocations/lifetime
                                 per second; prints a key=value line every --report seconds and at the end
          --lifetime SECONDS     churn: mean time an allocation carries traffic, each one 0.5-1.5 times it (default 10)
          --vanish PERCENT       churn: the share of clients that close their socket without releasing (default 0)
          --tcp PERCENT          churn: the share of clients that talk to the server over TCP (default 0)
          --report SECONDS       churn: seconds between progress lines (default 10)
        Prints one line of key=value results (see README).
        """;

    public IPEndPoint Server { get; init; } = new(IPAddress.Loopback, 3478);
    public string User { get; init; } = "";
    public string Password { get; init; } = "";
    public int Allocations { get; init; } = 10;
    public int Size { get; init; } = 100;
    public int Rate { get; init; } = 50;
    public int Window { get; init; } = 8;
    public double Duration { get; init; } = 10;
    public IPAddress Peer { get; init; } = IPAddress.Loopback;
    public int? ServerPid { get; init; }
    public bool Hold { get; init; }
    public bool Churn { get; init; }
    public double Lifetime { get; init; } = 10;
    public double VanishPercent { get; init; }
    public double TcpPercent { get; init; }
    public double Report { get; init; } = 10;

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => ++i < args.Length ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value");
            int NextInt() => int.Parse(Next(), CultureInfo.InvariantCulture);
            options = args[i] switch
            {
                "--server" => options with { Server = IPEndPoint.Parse(Next()) },
                "--user" => options with { User = Next() },
                "--password" => options with { Password = Next() },
                "--allocations" => options with { Allocations = NextInt() },
                "--size" => options with { Size = Math.Max(16, NextInt()) },
                "--rate" => options with { Rate = NextInt() },
                "--window" => options with { Window = NextInt() },
                "--duration" => options with { Duration = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--peer" => options with { Peer = IPAddress.Parse(Next()) },
                "--server-pid" => options with { ServerPid = NextInt() },
                "--hold" => options with { Hold = true },
                "--churn" => options with { Churn = true },
                "--lifetime" => options with { Lifetime = Math.Max(1, double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--vanish" => options with { VanishPercent = Math.Clamp(double.Parse(Next(), CultureInfo.InvariantCulture), 0, 100) },
                "--tcp" => options with { TcpPercent = Math.Clamp(double.Parse(Next(), CultureInfo.InvariantCulture), 0, 100) },
                "--report" => options with { Report = Math.Max(1, double.Parse(Next(), CultureInfo.InvariantCulture)) },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }
        return options;
    }
}
