using System.Diagnostics;

namespace EdgeRelay.Tests.Support;

/// <summary>What one run of the binary printed, standard output and standard error apart.</summary>
public sealed record BinaryRun(int Exit, string Stdout, string Stderr)
{
    public string All => Stdout + Stderr;

    public override string ToString() => $"exit {Exit}\n--- stdout:\n{Stdout}\n--- stderr:\n{Stderr}";
}

/// <summary>The binary that ships: artifacts/linux-x64/edgerelay (scripts/publish.sh, run by scripts/test.sh first).</summary>
public static class AotBinary
{
    public static string Path
    {
        get
        {
            string path = Environment.GetEnvironmentVariable("EDGERELAY_AOT_BINARY")
                ?? System.IO.Path.Combine(RepositoryRoot, "artifacts", "linux-x64", "edgerelay");
            Assert.True(File.Exists(path), $"{path} does not exist: run scripts/publish.sh linux-x64 first (scripts/test.sh does)");
            return path;
        }
    }

    /// <summary>The repository's top folder (the tests run from tests/PROJECT/bin/CONFIGURATION/TFM/).</summary>
    public static string RepositoryRoot => System.IO.Path.GetFullPath(System.IO.Path.Combine(AppContext.BaseDirectory, "../../../../.."));

    /// <summary>scripts/run-arm64.sh: the linux-arm64 binary under qemu-user, with its arguments.</summary>
    public static string Arm64Launcher => System.IO.Path.Combine(RepositoryRoot, "scripts", "run-arm64.sh");

    /// <summary>
    /// Runs the binary to its end as a user would, with <paramref name="stdin"/> as its input (then closed).
    /// <paramref name="limit"/> bounds a run that should be short; it is never an assertion about time.
    /// </summary>
    public static BinaryRun Run(IEnumerable<string> arguments, TimeSpan limit, string? stdin = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}");
        if (stdin is not null)
        {
            process.StandardInput.WriteLine(stdin);
        }
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"edgerelay {string.Join(' ', info.ArgumentList)} did not finish in {limit}");
        }
        process.WaitForExit();
        return new BinaryRun(process.ExitCode, stdout.Result, stderr.Result);
    }
}
