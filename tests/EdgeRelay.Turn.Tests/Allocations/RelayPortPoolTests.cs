using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Turn.Tests.Allocations;

/// <summary>The relay port range; after a reconfiguration, live allocations may hold ports outside it.</summary>
public sealed class RelayPortPoolTests
{
    [Fact]
    public void Releasing_a_port_outside_the_range_is_ignored()
    {
        var pool = new RelayPortPool(50000, 50001, new Random(1));
        Assert.True(pool.TryTakeSpecific(50000));

        pool.Release(49999);
        pool.Release(50002);
        pool.Release(50001); // in range, but not taken

        Assert.Equal(1, pool.InUse);
        Assert.True(pool.IsTaken(50000));
    }

    [Fact]
    public void A_port_taken_specifically_is_never_handed_out()
    {
        var pool = new RelayPortPool(50000, 50001, new Random(1));
        Assert.True(pool.TryTakeSpecific(50001));
        Assert.False(pool.TryTakeSpecific(50001));

        Assert.True(pool.TryTake(even: false, evenWithNext: false, out int port));
        Assert.Equal(50000, port);
        Assert.False(pool.TryTake(even: false, evenWithNext: false, out _));
    }
}
