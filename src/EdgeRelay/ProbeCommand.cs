using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgeRelay.Appliance.Diagnostics;

namespace EdgeRelay;

/// <summary>
/// <c>edgerelay probe turn URL</c>: checks a TURN server end to end (Binding, two allocations, permissions,
/// channels, relayed echo round trips, release) and prints one line per step and a verdict. Exit codes:
/// 0 every step passed, 1 a step failed, 64 usage. <c>edgerelay probe nat --stun HOST:PORT</c>: the NAT
/// behaviour tests of RFC 5780 (see <see cref="RunNat"/>).
/// </summary>
internal static class ProbeCommand
{
    public const string Usage = """
        Usage: edgerelay probe turn URL (--user NAME --password PASSWORD | --secret SECRET [--user NAME]) [options]

        Checks a TURN server end to end: STUN Binding, Allocate, a second Allocate as the peer,
        CreatePermission and ChannelBind both ways, relayed echo round trips from one allocation to the
        other and back (RTT percentiles), and Refresh with LIFETIME 0. One line per step, PASS or FAIL,
        then a verdict.

          URL                  turn:HOST[:PORT][?transport=udp|tcp]   (port 3478, udp by default)
                               turns:HOST[:PORT][?transport=tcp]      (TLS, port 5349 by default)
                               HOST: a name, an IPv4 address or [an IPv6 address]
          --user NAME          long-term credential user name (with --secret: the NAME in EXPIRY:NAME)
          --password PASSWORD  its password; "-" reads it from the first line of standard input
          --secret SECRET      a TURN REST API shared secret (auth.sharedSecrets): the probe makes a
                               credential valid for one hour; "-" reads it from standard input
          --count N            echo round trips (default 20)
          --timeout SECONDS    how long each request waits for its answer (default 5)
          --ca FILE            turns: trust this CA or self-signed certificate (PEM or DER)
          --insecure           turns: accept any certificate (a self-signed box); still encrypted
          --help               print this help

        Exit codes: 0 every step passed, 1 a step failed, 64 usage.
        The password and the secret are never printed.
        """;

    public const string NatUsage = """
        Usage: edgerelay probe nat --stun HOST[:PORT][,HOST2[:PORT]] [options]

        Finds out how the NAT between this host and a STUN server behaves, with the tests of RFC 5780
        over UDP: UDP connectivity (§4.2), mapping behaviour (§4.3: endpoint-independent,
        address-dependent or address and port-dependent mapping), filtering behaviour (§4.4, the same
        terms), hairpinning (§4.5), port preservation and, when asked, the binding lifetime (§4.6).
        One line per finding, then what it means for WebRTC.

          --stun HOST[:PORT]   the STUN server (port 3478 by default; [IPv6]:PORT). Mapping and filtering
                               need an RFC 5780 server with two addresses (EdgeRelay with natDiscovery and
                               an alternateAddress); with a plain server, a second one after a comma lets the
                               mapping test compare the two
          --timeout SECONDS    how long each test waits for its answer (default 2); a filtering test that
                               gets none is a finding, so this bounds a run behind a filtering NAT
          --lifetime           measure the binding lifetime too, up to 30 s (slow by nature)
          --lifetime-max SECONDS
                               measure it up to this long (implies --lifetime; 1 to 3600)
          --json               print the findings as JSON instead of text
          --help               print this help

        Exit codes: 0 the tests ran, 1 UDP is blocked or the server did not answer, 64 usage.
        """;

    private static readonly string[] ValueOptions = ["--user", "--password", "--secret", "--count", "--timeout", "--ca"];

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        if (args.Length < 2 || args[1] is "--help" or "-h" or "help")
        {
            (args.Length < 2 ? stderr : stdout).WriteLine($"{Usage}\n{NatUsage}");
            return args.Length < 2 ? ExitCodes.Usage : ExitCodes.Success;
        }
        if (args[1] == "nat")
        {
            return RunNat(args, stdout, stderr);
        }
        if (args[1] != "turn")
        {
            return UsageError(stderr, $"unknown probe \"{args[1]}\" (this build has: turn, nat)");
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        bool insecure = false;
        string? url = null;
        for (int i = 2; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg is "--help" or "-h")
            {
                stdout.WriteLine(Usage);
                return ExitCodes.Success;
            }
            if (arg == "--insecure")
            {
                insecure = true;
                continue;
            }
            string name = arg;
            string? value = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
            }
            if (ValueOptions.Contains(name))
            {
                if (value is null)
                {
                    if (i + 1 >= args.Length)
                    {
                        return UsageError(stderr, $"{name} needs a value");
                    }
                    value = args[++i];
                }
                values[name] = value;
            }
            else if (arg.StartsWith('-') && arg != "-")
            {
                // The argument may be a mistyped secret ("--pasword hunter2"): the option name is safe to show, the rest is not.
                return UsageError(stderr, $"unknown option \"{(arg.StartsWith("--", StringComparison.Ordinal) ? name : "-…")}\"");
            }
            else if (url is null)
            {
                url = arg;
            }
            else
            {
                return UsageError(stderr, "one URL only");
            }
        }

        if (url is null)
        {
            return UsageError(stderr, "the server's URL is needed, e.g. turn:relay.example.com:3478?transport=udp");
        }
        if (!TurnUrl.TryParse(url, out TurnUrl? server, out string urlError))
        {
            return UsageError(stderr, urlError);
        }
        values.TryGetValue("--user", out string? user);
        values.TryGetValue("--password", out string? password);
        values.TryGetValue("--secret", out string? secret);
        if (password is not null && secret is not null)
        {
            return UsageError(stderr, "give --password or --secret, not both");
        }
        if (password is null && secret is null)
        {
            return UsageError(stderr, "credentials are needed: --user NAME --password PASSWORD, or --secret SECRET");
        }
        if (password is not null && string.IsNullOrEmpty(user))
        {
            return UsageError(stderr, "--password needs --user NAME");
        }
        if (password == "-" || secret == "-")
        {
            string? line = stdin.ReadLine();
            if (string.IsNullOrEmpty(line))
            {
                return UsageError(stderr, $"{(password is not null ? "--password" : "--secret")} -: standard input had no line to read");
            }
            if (password is not null)
            {
                password = line;
            }
            else
            {
                secret = line;
            }
        }

        int count = 20;
        if (values.TryGetValue("--count", out string? countText)
            && (!int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > 10000))
        {
            return UsageError(stderr, $"--count: \"{countText}\" is not a whole number from 1 to 10000");
        }
        TimeSpan timeout = TimeSpan.FromSeconds(5);
        if (values.TryGetValue("--timeout", out string? timeoutText))
        {
            if (!double.TryParse(timeoutText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds) || seconds is < 0.1 or > 300)
            {
                return UsageError(stderr, $"--timeout: \"{timeoutText}\" is not a number of seconds from 0.1 to 300");
            }
            timeout = TimeSpan.FromSeconds(seconds);
        }

        X509Certificate2? ca = null;
        if (values.TryGetValue("--ca", out string? caPath) || insecure)
        {
            if (!server!.IsSecure)
            {
                return UsageError(stderr, $"{(insecure ? "--insecure" : "--ca")} is for turns: URLs (TLS) only");
            }
            if (caPath is not null && insecure)
            {
                return UsageError(stderr, "give --ca FILE or --insecure, not both");
            }
            if (caPath is not null)
            {
                try
                {
                    ca = X509CertificateLoader.LoadCertificate(File.ReadAllBytes(caPath));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
                {
                    return UsageError(stderr, $"--ca: {caPath} is not a readable PEM or DER certificate ({e.Message})");
                }
            }
        }

        string username;
        if (secret is not null)
        {
            // As a web service makes them for browsers (README, "Pointing a WebRTC app at it").
            (username, password) = TurnRestCredential.Create(secret, user, DateTimeOffset.UtcNow, TimeSpan.FromHours(1));
        }
        else
        {
            username = user!;
        }

        var options = new TurnProbeOptions
        {
            Server = server!,
            Username = username,
            Password = password!,
            Count = count,
            Timeout = timeout,
            TrustedCertificateAuthority = ca,
            InsecureSkipCertificateCheck = insecure,
        };
        stdout.WriteLine($"Probing {server} as {username}{(secret is not null ? " (TURN REST credential)" : string.Empty)}: {count} echoes, timeout {ProbeText.Seconds(timeout)}");

        try
        {
            return WithCancelKey(stderr, stop =>
            {
                TurnProbeReport report = TurnProbe.RunAsync(options, stop).GetAwaiter().GetResult();
                stdout.Write(ProbeText.Format(report));
                return report.Passed ? ExitCodes.Success : ExitCodes.Failure;
            });
        }
        finally
        {
            ca?.Dispose();
        }
    }

    /// <summary><c>edgerelay probe nat</c>. Exit codes: 0 the tests ran, 1 UDP blocked or no answer, 64 usage.</summary>
    private static int RunNat(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? stun = null, timeoutText = null, lifetimeText = null;
        bool json = false, lifetime = false;
        for (int i = 2; i < args.Length; i++)
        {
            string arg = args[i];
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            string name = arg.StartsWith("--", StringComparison.Ordinal) && equals > 0 ? arg[..equals] : arg;
            string? value = name.Length < arg.Length ? arg[(equals + 1)..] : null;
            switch (name)
            {
                case "--help" or "-h":
                    stdout.WriteLine(NatUsage);
                    return ExitCodes.Success;
                case "--json":
                    json = true;
                    continue;
                case "--lifetime":
                    lifetime = true;
                    continue;
                case "--stun" or "--timeout" or "--lifetime-max":
                    if (value is null && i + 1 >= args.Length)
                    {
                        return NatUsageError(stderr, $"{name} needs a value");
                    }
                    value ??= args[++i];
                    if (name == "--stun")
                    {
                        stun = value;
                    }
                    else if (name == "--timeout")
                    {
                        timeoutText = value;
                    }
                    else
                    {
                        lifetimeText = value;
                    }
                    continue;
                default:
                    return NatUsageError(stderr, arg.StartsWith('-') ? $"unknown option \"{name}\"" : $"unexpected argument \"{arg}\" (the server goes after --stun)");
            }
        }
        if (stun is null)
        {
            return NatUsageError(stderr, "the STUN server is needed: --stun HOST:PORT (an RFC 5780 server for every test)");
        }
        var servers = new List<StunServerAddress>();
        foreach (string part in stun.Split(','))
        {
            if (!StunServerAddress.TryParse(part, out StunServerAddress? server, out string error))
            {
                return NatUsageError(stderr, $"--stun: {error}");
            }
            servers.Add(server!);
        }
        if (servers.Count > 2)
        {
            return NatUsageError(stderr, "--stun: one server, or two separated by a comma");
        }
        var options = new NatBehaviorOptions { Servers = servers };
        if (timeoutText is not null)
        {
            if (!double.TryParse(timeoutText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds) || seconds is < 0.1 or > 60)
            {
                return NatUsageError(stderr, $"--timeout: \"{timeoutText}\" is not a number of seconds from 0.1 to 60");
            }
            options = options with { Timeout = TimeSpan.FromSeconds(seconds) };
        }
        if (lifetimeText is not null)
        {
            if (!double.TryParse(lifetimeText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds) || seconds is < 1 or > 3600)
            {
                return NatUsageError(stderr, $"--lifetime-max: \"{lifetimeText}\" is not a number of seconds from 1 to 3600");
            }
            options = options with { LifetimeMax = TimeSpan.FromSeconds(seconds) };
        }
        else if (lifetime)
        {
            options = options with { LifetimeMax = TimeSpan.FromSeconds(30) };
        }
        if (!json)
        {
            stdout.WriteLine($"NAT behaviour (RFC 5780) towards {string.Join(", ", servers)}: timeout {ProbeText.Seconds(options.Timeout)} a test"
                + (options.LifetimeMax is { } max ? $", binding lifetime up to {ProbeText.Seconds(max)}" : string.Empty));
        }
        return WithCancelKey(stderr, stop =>
        {
            NatBehaviorReport report = NatBehaviorProbe.RunAsync(options, stop).GetAwaiter().GetResult();
            stdout.Write(json ? NatBehaviorDocument.ToJson(report) + "\n" : report.Format());
            return report.Completed ? ExitCodes.Success : ExitCodes.Failure;
        });
    }

    /// <summary>Runs a probe that Ctrl+C stops (exit 1, "stopped") instead of killing.</summary>
    private static int WithCancelKey(TextWriter stderr, Func<CancellationToken, int> run)
    {
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return run(stop.Token);
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("edgerelay probe: stopped");
            return ExitCodes.Failure;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static int UsageError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"edgerelay probe: {message}\n\n{Usage}");
        return ExitCodes.Usage;
    }

    private static int NatUsageError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"edgerelay probe nat: {message}\n\n{NatUsage}");
        return ExitCodes.Usage;
    }
}
