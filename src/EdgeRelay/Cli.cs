namespace EdgeRelay;

/// <summary>The command line: <c>edgerelay run [--config FILE]</c>, <c>keygen</c>, <c>config …</c>, <c>release …</c>, <c>probe …</c>, <c>--version</c>, <c>--help</c>.</summary>
internal static class Cli
{
    private const string Usage = """
        Usage:
          edgerelay run [--config FILE]   run the relay (no FILE: the development default on udp/3478)
          edgerelay keygen --out FILE     make a key that signs configuration documents or releases
          edgerelay config sign|verify|validate ...
                                          sign, check and validate configuration documents
                                          (edgerelay config --help)
          edgerelay release sign|verify ...
                                          sign a release for over-the-air updates, and check one
                                          (edgerelay release --help)
          edgerelay probe turn URL ...    check a TURN server end to end: allocations, relayed echo, RTT
                                          (edgerelay probe --help)
          edgerelay probe nat --stun HOST:PORT[,HOST2:PORT]
                                          find out how the NAT in front of this host maps and filters
                                          (RFC 5780) and what that means for WebRTC
          edgerelay --version             print the version
          edgerelay --help                print this help

        The configuration file is JSON; every key is described in the README.
        """;

    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            (args.Length == 0 ? stderr : stdout).WriteLine(Usage);
            return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Success;
        }
        if (args[0] is "--version" or "version")
        {
            stdout.WriteLine($"edgerelay {ThisAssembly.Version}");
            return ExitCodes.Success;
        }
        if (args[0] == "run")
        {
            string? config = null;
            for (int i = 1; i < args.Length; i++)
            {
                if (args[i] is "--config" or "-c" && i + 1 < args.Length)
                {
                    config = args[++i];
                }
                else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
                {
                    config = args[i]["--config=".Length..];
                }
                else if (args[i] is "--help" or "-h")
                {
                    stdout.WriteLine(Usage);
                    return ExitCodes.Success;
                }
                else
                {
                    stderr.WriteLine($"edgerelay run: unexpected argument \"{args[i]}\"\n\n{Usage}");
                    return ExitCodes.Usage;
                }
            }
            return RunCommand.Run(config, stdout, stderr);
        }
        if (args[0] == "keygen")
        {
            return ConfigCommands.Keygen(args, stdout, stderr);
        }
        if (args[0] == "config")
        {
            return ConfigCommands.Config(args, stdout, stderr);
        }
        if (args[0] == "release")
        {
            return ReleaseCommands.Release(args, stdout, stderr);
        }
        if (args[0] == "probe")
        {
            return ProbeCommand.Run(args, stdout, stderr, Console.In);
        }
        stderr.WriteLine($"edgerelay: unknown command \"{args[0]}\"\n\n{Usage}");
        return ExitCodes.Usage;
    }
}
