using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace EdgeRelay.Benchmarks;

/// <summary>
/// Runs the benchmarks inside this process (InProcessEmitToolchain), so no child project is generated and
/// restored at run time. Every BenchmarkDotNet argument works; in addition:
/// <list type="bullet">
/// <item><c>--quick</c> (or <c>--job short</c>): Job.ShortRun, 3 warm-ups and 3 iterations, a few seconds a benchmark.</item>
/// <item><c>--smoke</c> (or <c>--job dry</c>): Job.Dry, one invocation each: proves that every benchmark runs, measures nothing.</item>
/// </list>
/// Without <c>--filter</c> every benchmark runs (BenchmarkDotNet would otherwise ask on the console).
/// Exits 1 when a benchmark failed, so that a script can run the smoke mode.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        Job job = Job.Default;
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg == "--quick")
            {
                job = Job.ShortRun;
            }
            else if (arg == "--smoke")
            {
                job = Job.Dry;
            }
            else if (arg is "--job" or "-j" && i + 1 < args.Length)
            {
                // Taken here rather than by BenchmarkDotNet, which would replace the in-process job with its own.
                job = args[++i].ToLowerInvariant() switch
                {
                    "default" => Job.Default,
                    "dry" => Job.Dry,
                    "short" => Job.ShortRun,
                    "medium" => Job.MediumRun,
                    "long" => Job.LongRun,
                    string other => throw new ArgumentException($"--job {other}: expected default, dry, short, medium or long"),
                };
            }
            else
            {
                rest.Add(arg);
            }
        }
        if (!rest.Any(a => a is "--filter" or "-f" or "--list" or "--help" or "-h" or "--version" or "--info" || a.StartsWith("--filter=", StringComparison.Ordinal)))
        {
            rest.AddRange(["--filter", "*"]);
        }

        IConfig config = DefaultConfig.Instance
            .AddJob(job.WithToolchain(InProcessEmitToolchain.Instance).AsDefault())
            // Not the current directory, which is the repository when run as the README says.
            .WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"));

        Summary[] summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. rest], config).ToArray();
        bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success))
                      || (summaries.Sum(s => s.Reports.Length) == 0 && rest.Contains("--filter"));
        return failed ? 1 : 0;
    }
}
