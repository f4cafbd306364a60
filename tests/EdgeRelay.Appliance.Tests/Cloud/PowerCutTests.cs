using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeRelay.Appliance.Cloud;
using Xunit.Abstractions;

namespace EdgeRelay.Appliance.Tests.Cloud;

/// <summary>
/// The last-known-good store against a writer killed at random moments (tests/EdgeRelay.StoreWriter:
/// it saves version after version with the real <see cref="LastKnownGoodStore"/> until it is killed).
/// After every SIGKILL the store is loaded as a restarted box would load it.
/// </summary>
/// <remarks>
/// What this proves and what it does not: SIGKILL of the process tests atomicity against a crash (the
/// process dies between any two instructions, half-way through a write(2), between the write and the
/// rename, between the rename and the directory's fsync). The kernel and its page cache survive a killed
/// process, so everything the process had written reaches the disk later anyway: this test cannot tell
/// whether the fsyncs in <see cref="AtomicFile"/> are there or not, and it does not prove durability
/// against a real power loss, where unsynced data is lost and the file system may reorder what reaches
/// the disk. That is what the fsync of the temporary file before the rename and the fsync of the
/// directory after it provide; the test cannot pull the plug.
/// </remarks>
public sealed class PowerCutTests(ITestOutputHelper output) : IDisposable
{
    private const int Trials = 120;

    // After the writer's first "stored" line, the kill comes after a delay drawn uniformly from this
    // range (at microsecond resolution), so that it lands at a random phase of the save loop, whose
    // rounds take a millisecond or a few: the first "stored" line is what takes the ~100 ms start of
    // the dotnet host out of the random range, so that every kill lands while the writer is storing.
    private static readonly TimeSpan MaxKillDelay = TimeSpan.FromMilliseconds(20);

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-powercut-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string WriterDll
    {
        get
        {
            // The writer is built next to this project (a ProjectReference that references no assembly):
            // tests/EdgeRelay.StoreWriter/bin/CONFIGURATION/TFM/, as this is tests/EdgeRelay.Appliance.Tests/bin/CONFIGURATION/TFM/.
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string framework = here.Name;
            string configuration = here.Parent!.Name;
            return Path.GetFullPath(Path.Combine(here.FullName, "../../../../EdgeRelay.StoreWriter/bin", configuration, framework, "EdgeRelay.StoreWriter.dll"));
        }
    }

    [Fact]
    public void A_writer_killed_at_random_moments_always_leaves_the_last_acknowledged_version_or_a_later_one_complete_and_signed()
    {
        Assert.True(File.Exists(WriterDll), $"the writer is not built: {WriterDll}");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string keyFile = Path.Combine(_root, "signing-key.pem");
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        TrustedKey trusted = TrustedKey.FromSigningKey(key);
        string stateDirectory = Path.Combine(_root, "state");
        var store = new LastKnownGoodStore(stateDirectory);
        string leftoverPattern = $".{LastKnownGoodStore.FileName}.*.tmp";

        var random = new Random(Environment.TickCount);
        var outcomes = new Dictionary<KillOutcome, int>();
        long lastLoaded = 0;
        var total = Stopwatch.StartNew();

        for (int trial = 1; trial <= Trials; trial++)
        {
            TimeSpan delay = TimeSpan.FromTicks((long)(random.NextDouble() * MaxKillDelay.Ticks));
            WriterRun run = RunAndKill(stateDirectory, keyFile, delay);
            string context = $"trial {trial}: killed {delay.TotalMilliseconds:F3} ms after its first save, after \"{run.LastLine}\"";

            // SIGKILL: the runtime ran no handler, no finally block, no flush.
            Assert.True(run.ExitCode == 128 + 9, $"{context}: the writer exited with {run.ExitCode}, not by SIGKILL; stderr: {run.Errors}");
            Assert.True(run.Errors.Length == 0, $"{context}: the writer wrote to stderr: {run.Errors}");
            Assert.True(run.LastStored >= lastLoaded + 1, $"{context}: it acknowledged no version after {lastLoaded}; stderr: {run.Errors}");

            bool leftover = Directory.EnumerateFiles(stateDirectory, leftoverPattern).Any();
            StoreLoadResult loaded = store.Load();

            Assert.True(loaded.Problem is null, $"{context}: {loaded.Problem}");
            StoredDocument document = Assert.IsType<StoredDocument>(loaded.Document);
            Assert.Equal(trusted.KeyId, loaded.SignedBy);
            Assert.Equal(SignatureCheck.None, SignedDocument.Verify(document.Document, [trusted], out byte[] payload, out _));
            Assert.Equal(payload, loaded.Payload);
            long version;
            using (JsonDocument json = JsonDocument.Parse(payload))
            {
                version = json.RootElement.GetProperty("version").GetInt64();
            }
            // The record's own fields (outside the signature) belong to the same save as the document.
            Assert.Equal(version, document.Version);
            Assert.Equal($"\"v{version}\"", document.ETag);
            // A Save that returned survives the kill; the one in progress is all there or not at all.
            Assert.True(version >= run.LastStored, $"{context}: the store holds version {version}, but version {run.LastStored} was stored");
            Assert.True(version <= run.LastAttempted, $"{context}: the store holds version {version}, but the writer never got past {run.LastAttempted}");
            KillOutcome outcome = run.LastLine.StartsWith("stored ", StringComparison.Ordinal) ? KillOutcome.BetweenSaves
                : leftover ? KillOutcome.InSaveBeforeRename
                : version == run.LastAttempted ? KillOutcome.InSaveAfterRename
                : KillOutcome.InSaveBeforeTemporaryFile;
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            if (outcome is KillOutcome.BetweenSaves or KillOutcome.InSaveBeforeRename)
            {
                // Between saves nothing was being replaced; before the rename the new version was not the file yet.
                Assert.True(version == run.LastStored, $"{context}: the store holds version {version}, not the last stored {run.LastStored}");
            }
            // Load removed what the killed writer left behind, so nothing piles up from crash to crash.
            Assert.Empty(Directory.EnumerateFiles(stateDirectory, leftoverPattern));
            Assert.True(File.Exists(store.Path));

            lastLoaded = version;
        }

        int inSave = Trials - outcomes.GetValueOrDefault(KillOutcome.BetweenSaves);
        output.WriteLine($"{Trials} trials in {total.Elapsed.TotalSeconds:F1} s, up to version {lastLoaded}; kills 0-{MaxKillDelay.TotalMilliseconds} ms after the first save; {inSave} of them inside Save:");
        output.WriteLine($"  killed in Save, before its temporary file existed (serializing):    {outcomes.GetValueOrDefault(KillOutcome.InSaveBeforeTemporaryFile)}");
        output.WriteLine($"  killed in Save, writing or syncing the temporary file (it was left): {outcomes.GetValueOrDefault(KillOutcome.InSaveBeforeRename)}");
        output.WriteLine($"  killed in Save, after the rename (syncing the directory, returning): {outcomes.GetValueOrDefault(KillOutcome.InSaveAfterRename)}");
        output.WriteLine($"  killed between saves (making and signing the next version):         {outcomes.GetValueOrDefault(KillOutcome.BetweenSaves)}");
    }

    private enum KillOutcome
    {
        InSaveBeforeTemporaryFile,
        InSaveBeforeRename,
        InSaveAfterRename,
        BetweenSaves,
    }

    private sealed record WriterRun(int ExitCode, string LastLine, long LastStored, long LastAttempted, string Errors);

    private static WriterRun RunAndKill(string stateDirectory, string keyFile, TimeSpan delay)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            // Held open and never written: the writer exits when it ends, should this process die first.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(WriterDll);
        start.ArgumentList.Add(stateDirectory);
        start.ArgumentList.Add(keyFile);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        using var process = Process.Start(start)!;
        var lines = new List<string>();
        using var firstStored = new ManualResetEventSlim();
        Exception? readFailure = null;
        // Every line the writer wrote before it died is in the pipe: reading to the end after the kill
        // gives exactly where it was.
        var reader = new Thread(() =>
        {
            try
            {
                while (process.StandardOutput.ReadLine() is { } line)
                {
                    lock (lines)
                    {
                        lines.Add(line);
                    }
                    if (line.StartsWith("stored ", StringComparison.Ordinal))
                    {
                        firstStored.Set();
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                readFailure = e;
            }
            finally
            {
                firstStored.Set();
            }
        }) { IsBackground = true, Name = "writer's stdout" };
        reader.Start();
        Task<string> errors = process.StandardError.ReadToEndAsync();

        bool started = false;
        try
        {
            started = firstStored.Wait(StartTimeout) && !process.HasExited;
            if (started)
            {
                // Spun rather than slept: the delay is below the scheduler's tick, and its spread is the point.
                var waited = Stopwatch.StartNew();
                while (waited.Elapsed < delay)
                {
                    Thread.SpinWait(10);
                }
            }
        }
        finally
        {
            process.Kill(); // SIGKILL on Linux; nothing if it has exited already
            process.WaitForExit();
            reader.Join();
        }
        if (readFailure is not null)
        {
            throw new InvalidOperationException("reading the writer's output failed", readFailure);
        }

        long lastStored = 0, lastAttempted = 0;
        foreach (string line in lines)
        {
            string[] words = line.Split(' ');
            if (words is ["stored", var stored])
            {
                lastStored = long.Parse(stored, System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (words is ["saving", var saving])
            {
                lastAttempted = long.Parse(saving, System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        string text = errors.GetAwaiter().GetResult();
        if (!started)
        {
            text = $"no \"stored\" line within {StartTimeout.TotalSeconds} s. {text}";
        }
        return new WriterRun(process.ExitCode, lines.Count > 0 ? lines[^1] : "(nothing)", lastStored, lastAttempted, text);
    }
}
