using System.Runtime.CompilerServices;

namespace EdgeRelay.Tests.Support;

internal static class ThreadPoolWarmup
{
    /// <summary>
    /// These tests run the relay in the test process while they block threads waiting for external
    /// programs (Process.WaitForExit and polling). On a 2-core machine the pool starts with 2 workers and
    /// adds one every half second, which would delay the relay's own socket loops and show up as
    /// "lost" packets in turnutils_uclient. A production relay blocks no pool thread.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
    }
}
