using EdgeRelay.Fuzz;
using SharpFuzz;

// edgerelay-fuzz TARGET            run under afl-fuzz (scripts/fuzz.sh): one input per round on stdin
// edgerelay-fuzz TARGET FILE...    run the target once per file and say which ones fail
if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out FuzzTarget? target))
{
    Console.Error.WriteLine($"usage: edgerelay-fuzz {string.Join('|', FuzzTargets.All.Keys)} [FILE...]");
    return 2;
}
if (args.Length == 1)
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        target(copy.GetBuffer().AsSpan(0, (int)copy.Length));
    });
    return 0;
}
if (args[0] == "turn" && Environment.GetEnvironmentVariable("EDGERELAY_FUZZ_COUNTERS") == "1")
{
    // What each script reached: to check that a new seed does more than get challenged.
    foreach (string file in args.Skip(1))
    {
        EdgeRelay.Turn.TurnCounters c = EdgeRelay.Fuzz.Targets.TurnTarget.RunScript(File.ReadAllBytes(file));
        Console.WriteLine($"{Path.GetFileName(file)}: allocations {c.AllocationsCreated}, permissions {c.PermissionsCreated}, channels {c.ChannelsBound}, "
            + $"to peers {c.PacketsToPeers}, from peers {c.PacketsFromPeers}, malformed {c.MalformedPackets}");
    }
    return 0;
}
int failed = 0;
foreach (string file in args.Skip(1))
{
    try
    {
        target(File.ReadAllBytes(file));
    }
    catch (Exception e)
    {
        failed++;
        Console.WriteLine($"{file}: {e}");
    }
}
Console.WriteLine($"{args.Length - 1 - failed} passed, {failed} failed");
return failed == 0 ? 0 : 1;
