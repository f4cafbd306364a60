using EdgeRelay.Fuzz.Targets;
using EdgeRelay.Turn;

namespace EdgeRelay.Fuzz.Tests;

/// <summary>
/// Every seed of the corpus and every input a fuzzer once crashed on goes through its target, the very
/// method scripts/fuzz.sh runs under AFL++, with all of the target's invariants.
/// </summary>
public sealed class CorpusReplayTests
{
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string folder in new[] { "corpus", "regressions" })
        {
            string root = Path.Combine(AppContext.BaseDirectory, folder);
            if (!Directory.Exists(root))
            {
                continue;
            }
            foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string target = Path.GetFileName(Path.GetDirectoryName(file)!);
                data.Add(target, Path.GetRelativePath(AppContext.BaseDirectory, file));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Input_passes_its_fuzz_target_without_an_exception_or_a_broken_invariant(string target, string file)
    {
        Assert.True(FuzzTargets.All.TryGetValue(target, out FuzzTarget? run), $"{file}: no fuzz target named {target}");
        run(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, file)));
    }

    [Theory]
    [InlineData("stun", 10)]
    [InlineData("channeldata", 1)]
    [InlineData("stream", 4)]
    [InlineData("turn", 10)]
    public void Every_target_has_a_seed_corpus(string target, int atLeast) =>
        Assert.True(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "corpus", target)).Length >= atLeast);

    /// <summary>
    /// The turn seeds are real sessions re-signed by the harness: together they must get past
    /// authentication and reach every TURN method and relaying both ways, over UDP and TCP, or the
    /// fuzzer would spend its time on 401s.
    /// </summary>
    [Fact]
    public void Turn_seeds_reach_allocations_permissions_channels_and_relaying()
    {
        long allocations = 0, permissions = 0, channels = 0, toPeers = 0, fromPeers = 0;
        foreach (string file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "corpus", "turn")))
        {
            TurnCounters counters = TurnTarget.RunScript(File.ReadAllBytes(file));
            allocations += counters.AllocationsCreated;
            permissions += counters.PermissionsCreated;
            channels += counters.ChannelsBound;
            toPeers += counters.PacketsToPeers;
            fromPeers += counters.PacketsFromPeers;
        }
        Assert.True(allocations > 0 && permissions > 0 && channels > 0 && toPeers > 0 && fromPeers > 0,
            $"allocations {allocations}, permissions {permissions}, channels {channels}, to peers {toPeers}, from peers {fromPeers}");
    }
}
