using EdgeRelay.Appliance.Systemd;

namespace EdgeRelay.Appliance.Tests.Systemd;

/// <summary>Progress counters a test moves by hand: by default two event loops and the timer tick.</summary>
internal sealed class FakeRelayProgress(int parts = 3) : IRelayProgress
{
    public long[] Counters { get; } = new long[parts];

    public RelayActivity Current { get; set; }

    public void AdvanceAll()
    {
        for (int i = 0; i < Counters.Length; i++)
        {
            Counters[i]++;
        }
    }

    public void AdvanceAllBut(int stuck)
    {
        for (int i = 0; i < Counters.Length; i++)
        {
            if (i != stuck)
            {
                Counters[i]++;
            }
        }
    }

    public long[] ProgressSnapshot() => (long[])Counters.Clone();

    public RelayActivity Activity() => Current;
}
