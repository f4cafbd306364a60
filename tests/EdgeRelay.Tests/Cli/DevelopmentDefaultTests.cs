using System.Diagnostics;
using System.Text.RegularExpressions;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Cli;

/// <summary>
/// `edgerelay run` with no configuration: the README's first command. It listens on udp/3478, prints a
/// ready-to-paste iceServers entry with a generated credential, and keeps that credential across restarts.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class DevelopmentDefaultTests : IDisposable
{
    private readonly string _stateHome = Directory.CreateTempSubdirectory("edgerelay-dev-").FullName;

    private ExternalProcess StartDevelopmentRelay()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "edgerelay.dll"));
        info.ArgumentList.Add("run");
        info.Environment["XDG_STATE_HOME"] = _stateHome;
        return ExternalProcess.Start(info);
    }

    [Fact]
    public void Run_without_a_file_prints_ice_servers_with_a_generated_credential_that_survives_a_restart()
    {
        string first;
        using (ExternalProcess relay = StartDevelopmentRelay())
        {
            Assert.True(relay.WaitForOutput("Stop with Ctrl+C", TimeSpan.FromSeconds(30)), relay.Output);
            Match snippet = SnippetRegex().Match(relay.Output);
            Assert.True(snippet.Success, relay.Output);
            first = snippet.Groups["credential"].Value;
            Assert.True(first.Length >= 16, "the generated password is long");

            (int exit, string output) = ExternalProcess.Run(Coturn.Timeout, Coturn.Tool("turnutils_stunclient"), "-p", "3478", "127.0.0.1");
            Assert.Equal(0, exit);
            Assert.Contains("UDP reflexive addr: 127.0.0.1:", output);

            relay.Signal("TERM");
            Assert.True(relay.WaitForExit(TimeSpan.FromSeconds(20)), relay.Output);
            Assert.True(relay.ExitCode == 0, $"exit code {relay.ExitCode}:\n{relay.Output}");
        }
        string stored = Path.Combine(_stateHome, "edgerelay", "development-password");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(stored));

        using (ExternalProcess again = StartDevelopmentRelay())
        {
            Assert.True(again.WaitForOutput("Stop with Ctrl+C", TimeSpan.FromSeconds(30)), again.Output);
            Assert.Equal(first, SnippetRegex().Match(again.Output).Groups["credential"].Value);
        }
    }

    [GeneratedRegex("""iceServers: \[\{ urls: "turn:[0-9.]+:3478\?transport=udp", username: "dev", credential: "(?<credential>[^"]+)" \}\]""")]
    private static partial Regex SnippetRegex();

    public void Dispose() => Directory.Delete(_stateHome, recursive: true);
}
