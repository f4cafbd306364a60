using System.Text.RegularExpressions;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Probe;

/// <summary>Runs <c>edgerelay probe nat</c> (the shipped binary) and reads its finding lines: <c>mapping      endpoint-independent mapping (…)</c>.</summary>
public static partial class NatProbeOutput
{
    /// <summary>A bound on a run that takes a few seconds; never an assertion about time.</summary>
    public static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(120);

    public static string[] Command(params string[] arguments) => [AotBinary.Path, "probe", "nat", .. arguments];

    public static (int ExitCode, string Output) Run(params string[] arguments)
    {
        string[] command = Command(arguments);
        return ExternalProcess.Run(RunLimit, command[0], command[1..]);
    }

    /// <summary>The value of finding <paramref name="name"/> (the RFC's term, or a plain statement), without its detail.</summary>
    public static string Finding(string output, string name)
    {
        Match match = FindingLine().Matches(output).FirstOrDefault(m => m.Groups["name"].Value == name)
            ?? throw new Xunit.Sdk.XunitException($"no \"{name}\" line in:\n{output}");
        return match.Groups["value"].Value.TrimEnd();
    }

    public static string Verdict(string output) =>
        output.Split('\n').Select(line => line.TrimEnd()).LastOrDefault(line => line.StartsWith("WebRTC: ", StringComparison.Ordinal))
        ?? throw new Xunit.Sdk.XunitException($"no verdict in:\n{output}");

    [GeneratedRegex(@"(?m)^(?<name>[a-z]+) +(?<value>[^(\n]+?)(?: \(.*\))?$")]
    private static partial Regex FindingLine();
}
