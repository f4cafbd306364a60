using System.Collections;

namespace EdgeRelay.Turn.Allocations;

/// <summary>
/// The ports of <c>relay.portRange</c> and which are taken. Ports are handed out from a random start
/// so that relayed addresses are hard to guess (RFC 8656 §21.2.2 advises randomised ports).
/// </summary>
public sealed class RelayPortPool
{
    private readonly BitArray _inUse;
    private readonly Random _random;

    public RelayPortPool(int first, int last, Random? random = null)
    {
        if (first < 1 || last > 65535 || first > last)
        {
            throw new ArgumentOutOfRangeException(nameof(first), $"invalid port range {first}-{last}");
        }
        First = first;
        Last = last;
        _inUse = new BitArray(last - first + 1);
        _random = random ?? Random.Shared;
    }

    public int First { get; }
    public int Last { get; }
    public int Capacity => Last - First + 1;
    public int InUse { get; private set; }

    /// <summary>
    /// Takes a free port (an even one with a free odd neighbour when <paramref name="evenWithNext"/>,
    /// RFC 8656 §7.2 EVEN-PORT with R=1).
    /// </summary>
    public bool TryTake(bool even, bool evenWithNext, out int port)
    {
        int count = Capacity;
        int start = _random.Next(count);
        for (int i = 0; i < count; i++)
        {
            int candidate = First + (start + i) % count;
            if ((even || evenWithNext) && (candidate & 1) != 0)
            {
                continue;
            }
            if (IsTaken(candidate))
            {
                continue;
            }
            if (evenWithNext && (candidate + 1 > Last || IsTaken(candidate + 1)))
            {
                continue;
            }
            MarkTaken(candidate);
            port = candidate;
            return true;
        }
        port = 0;
        return false;
    }

    public bool IsTaken(int port) => port >= First && port <= Last && _inUse[port - First];

    public bool TryTakeSpecific(int port)
    {
        if (port < First || port > Last || _inUse[port - First])
        {
            return false;
        }
        MarkTaken(port);
        return true;
    }

    public void Release(int port)
    {
        if (port >= First && port <= Last && _inUse[port - First])
        {
            _inUse[port - First] = false;
            InUse--;
        }
    }

    private void MarkTaken(int port)
    {
        _inUse[port - First] = true;
        InUse++;
    }
}
