using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Update;

namespace EdgeRelay;

/// <summary>
/// The operator's tools for over-the-air updates: <c>edgerelay release sign</c> writes the signed manifest of a
/// binary (<see cref="ReleaseManifest"/>, a JWS like configuration documents), <c>release verify</c> checks one as a
/// box would, and the binary against it. Options, files and keys are read as <see cref="ConfigCommands"/> reads them.
/// </summary>
internal static class ReleaseCommands
{
    public const string ReleaseUsage = """
        Usage:
          edgerelay release sign --binary FILE --version VERSION --rid RID --key KEY.pem
                                 [--binary-url URL] [--floor VERSION] [--out FILE]
              write the signed manifest of a release (JWS, ES256): its version, RID, size and SHA-256.
              VERSION is what the binary's --version prints (numbers joined by dots, e.g. 1.4.2); RID is
              linux-x64 or linux-arm64; KEY.pem a key from `edgerelay keygen`. URL is where boxes get the
              binary: a path relative to the manifest's own URL (default: edgerelay-VERSION-RID, the file
              next to it) or an https:// URL. --floor: once a box has committed this release, no update takes
              it below that version, update.allowDowngrade or not (a security fix; at most VERSION).
              The manifest goes to FILE, or to standard output
          edgerelay release verify --manifest FILE --trusted-key KEY [--trusted-key KEY2]... [--binary FILE]
              check a signed manifest as a box would (the signature by one of the keys, then the content)
              and print what it says; with --binary, check that file's size and SHA-256 against it.
              KEY is a public key as keygen prints it, or a file holding one
          edgerelay release guard --state-directory DIR --slot SLOT --attempt N --pid PID
              started by the relay itself beside a release on trial (README, "Updates"): rolls the trial
              back and stops the release when it gives no verdict in time. Not for operators

        Exit codes: 0 good, 1 a binary that does not match (or a file that cannot be read or written),
        2 a bad value, 3 signature refused, 64 usage.
        """;

    /// <summary>The runtimes this project publishes (scripts/publish.sh), with their ELF e_machine: what a box checks its manifest's RID against.</summary>
    private static readonly (string Rid, ushort Machine, string Architecture)[] Runtimes =
    [
        ("linux-x64", 0x3E, "x86-64"),
        ("linux-arm64", 0xB7, "AArch64"),
    ];

    /// <summary>Where a relative --binary-url is resolved from, to check it the way a box resolves it against its manifest's URL.</summary>
    private static readonly Uri ExampleManifestUrl = new("https://releases.example.com/edgerelay/release.jws");

    public static int Release(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length < 2 || args[1] is "--help" or "-h" or "help")
        {
            (args.Length < 2 ? stderr : stdout).WriteLine(ReleaseUsage);
            return args.Length < 2 ? ExitCodes.Usage : ExitCodes.Success;
        }
        return args[1] switch
        {
            "sign" => Sign(args, stdout, stderr),
            "verify" => Verify(args, stdout, stderr),
            "guard" => TrialGuardCommand.Run(args, stderr),
            _ => ConfigCommands.UsageError(stderr, "release", args[1].StartsWith('-')
                ? $"unknown option \"{args[1]}\"" : $"unknown command \"{args[1]}\" (expected sign or verify)", ReleaseUsage),
        };
    }

    private static int Sign(string[] args, TextWriter stdout, TextWriter stderr)
    {
        const string command = "release sign";
        bool parsed = ConfigCommands.TryParse(args, 2, ["--binary", "--version", "--rid", "--key", "--binary-url", "--floor", "--out"], [],
            out Dictionary<string, List<string>> options, out List<string> rest, out string? error);
        if (options.ContainsKey("--help"))
        {
            return Help(stdout);
        }
        string? missing = new[] { ("--binary", "FILE"), ("--version", "VERSION"), ("--rid", "RID"), ("--key", "KEY.pem") }
            .Where(o => !options.ContainsKey(o.Item1)).Select(o => $"{o.Item1} {o.Item2} is needed").FirstOrDefault();
        if (!parsed || rest.Count > 0 || missing is not null)
        {
            return ConfigCommands.UsageError(stderr, command, error ?? (rest.Count > 0 ? $"unexpected argument \"{rest[0]}\"" : missing!), ReleaseUsage);
        }
        string binaryPath = options["--binary"][^1];
        string version = options["--version"][^1];
        string rid = options["--rid"][^1];
        string keyPath = options["--key"][^1];
        string? binaryUrl = options.TryGetValue("--binary-url", out List<string>? urls) ? urls[^1] : null;
        string? floor = options.TryGetValue("--floor", out List<string>? floors) ? floors[^1] : null;

        // The values first, so that a mistake costs no hashing.
        if (!ReleaseVersion.TryParse(version, out _))
        {
            stderr.WriteLine($"edgerelay {command}: --version \"{version}\" is not a release version: expected two to four numbers joined by dots, e.g. 1.4.2 (what the binary's --version prints)");
            return ExitCodes.Configuration;
        }
        if (floor is not null && (!ReleaseVersion.TryParse(floor, out ReleaseVersion parsedFloor) || parsedFloor > ReleaseVersion.Parse(version)))
        {
            stderr.WriteLine($"edgerelay {command}: --floor \"{floor}\" is not a release version at most --version {version}");
            return ExitCodes.Configuration;
        }
        if (!Runtimes.Any(r => r.Rid == rid))
        {
            stderr.WriteLine($"edgerelay {command}: --rid \"{rid}\" is not a runtime EdgeRelay is built for: expected {string.Join(" or ", Runtimes.Select(r => r.Rid))}");
            return ExitCodes.Configuration;
        }
        // Checked as a box checks it (ReleaseManifest.BinaryUrl), against a manifest URL of the right kind.
        if (binaryUrl is not null
            && (binaryUrl.Length is 0 or > 2048 || new ReleaseManifest(version, rid, 1, new string('0', 64), binaryUrl).BinaryUrl(ExampleManifestUrl, out _) is null))
        {
            stderr.WriteLine($"edgerelay {command}: --binary-url \"{binaryUrl}\" is neither an https:// URL nor a path relative to the manifest's URL");
            return ExitCodes.Configuration;
        }

        if (!ConfigCommands.TryRead(keyPath, command, stderr, out string? keyText))
        {
            return ExitCodes.Failure;
        }
        using var key = ECDsa.Create();
        if (ConfigCommands.SigningKeyProblem(keyText, key) is string keyProblem)
        {
            stderr.WriteLine($"edgerelay {command}: --key {keyPath} is not an ECDSA P-256 private key in PEM: {keyProblem} (make one with `edgerelay keygen`)");
            return ExitCodes.Failure;
        }

        ReleaseManifest manifest;
        try
        {
            if (BinaryProblem(binaryPath, rid) is string problem)
            {
                stderr.WriteLine($"edgerelay {command}: --binary {binaryPath} {problem}: nothing signed");
                return ExitCodes.Configuration;
            }
            manifest = ReleaseManifest.ForBinary(binaryPath, version, rid, binaryUrl) with { Floor = floor };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"edgerelay {command}: cannot read --binary {binaryPath}: {ConfigCommands.Reason(e)}");
            return ExitCodes.Failure;
        }

        string signed = manifest.Sign(key);
        string keyId = TrustedKey.FromSigningKey(key).KeyId;
        return ConfigCommands.WriteSigned(command, signed, options, stdout, stderr, path => string.Create(CultureInfo.InvariantCulture,
            $"Signed {ReleaseManifest.Name} {manifest.Version} for {manifest.Rid} ({manifest.Size} bytes, sha256 {manifest.Sha256}, binary \"{manifest.Binary}\"{(manifest.Floor is null ? "" : $", floor {manifest.Floor}")}) with key {keyId}: {path}"));
    }

    /// <summary>
    /// Null when <paramref name="path"/> can be a release for <paramref name="rid"/>: not empty, not larger than a box takes,
    /// and an ELF executable for that architecture (a box would download it only to find that it does not run).
    /// </summary>
    private static string? BinaryProblem(string path, string rid)
    {
        long size = new FileInfo(path).Length;
        if (size == 0 || size > ReleaseManifest.MaxSize)
        {
            return string.Create(CultureInfo.InvariantCulture, $"is {size} bytes: a release is between 1 and {ReleaseManifest.MaxSize} bytes (ReleaseManifest.MaxSize)");
        }
        Span<byte> header = stackalloc byte[20];
        using (FileStream stream = File.OpenRead(path))
        {
            if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !header[..4].SequenceEqual("\u007fELF"u8))
            {
                return "is not an ELF executable (publish it with scripts/publish.sh)";
            }
        }
        // e_machine: 2 bytes at offset 18, in the file's byte order (EI_DATA, byte 5: 1 little-endian, 2 big-endian).
        ushort machine = header[5] == 2 ? BinaryPrimitives.ReadUInt16BigEndian(header[18..]) : BinaryPrimitives.ReadUInt16LittleEndian(header[18..]);
        var expected = Runtimes.First(r => r.Rid == rid);
        if (machine != expected.Machine)
        {
            var actual = Runtimes.FirstOrDefault(r => r.Machine == machine);
            string built = actual.Rid is null ? string.Create(CultureInfo.InvariantCulture, $"ELF machine 0x{machine:x}") : $"{actual.Architecture} ({actual.Rid})";
            return $"is built for {built}, not for {expected.Architecture} as --rid {rid} says";
        }
        return null;
    }

    private static int Verify(string[] args, TextWriter stdout, TextWriter stderr)
    {
        const string command = "release verify";
        bool parsed = ConfigCommands.TryParse(args, 2, ["--manifest", "--trusted-key", "--binary"], [],
            out Dictionary<string, List<string>> options, out List<string> rest, out string? error);
        if (options.ContainsKey("--help"))
        {
            return Help(stdout);
        }
        string? missing = !options.ContainsKey("--manifest") ? "--manifest FILE is needed"
            : !options.ContainsKey("--trusted-key") ? "--trusted-key KEY is needed (the public key keygen printed, or a file holding it)"
            : null;
        if (!parsed || rest.Count > 0 || missing is not null)
        {
            return ConfigCommands.UsageError(stderr, command, error ?? (rest.Count > 0 ? $"unexpected argument \"{rest[0]}\"" : missing!), ReleaseUsage);
        }
        var keys = new List<TrustedKey>();
        if (!ConfigCommands.TryReadTrustedKeys(options["--trusted-key"], command, stderr, keys, out int keyExit))
        {
            return keyExit;
        }
        string manifestPath = options["--manifest"][^1];
        if (!ConfigCommands.TryRead(manifestPath, command, stderr, out string? document))
        {
            return ExitCodes.Failure;
        }
        if (Encoding.UTF8.GetByteCount(document) > ReleaseManifest.MaxDocumentBytes)
        {
            stderr.WriteLine($"edgerelay {command}: {manifestPath} is larger than the {ReleaseManifest.MaxDocumentBytes} bytes a box reads of a manifest: not a release manifest");
            return ExitCodes.Configuration;
        }

        // The signature, then the content: ReleaseManifest.Verify's steps, apart, so that each has its exit code.
        SignatureCheck check = SignedDocument.Verify(document, keys, out byte[] payload, out string? keyId);
        if (check != SignatureCheck.None)
        {
            string why = check == SignatureCheck.UnknownKey
                ? $"signed by key \"{keyId}\", which is not one of the trusted keys (--trusted-key)"
                : SignedDocument.Describe(check, keyId);
            stderr.WriteLine($"edgerelay {command}: {manifestPath}: refused: {why}");
            stderr.WriteLine($"  trusted: {string.Join(", ", keys.Select(k => k.KeyId))}");
            return ExitCodes.BadSignature;
        }
        if (ReleaseManifest.TryParse(payload, out string? problem) is not { } manifest)
        {
            stderr.WriteLine($"edgerelay {command}: {manifestPath}: good signature by key {keyId}, but not a release manifest: {problem}");
            return ExitCodes.Configuration;
        }
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            {manifestPath}: good signature by key {keyId}
              name:    {ReleaseManifest.Name}
              version: {manifest.Version}
              rid:     {manifest.Rid}
              size:    {manifest.Size} bytes
              sha256:  {manifest.Sha256}
              binary:  {manifest.Binary}
            """));
        if (manifest.Floor is not null)
        {
            stdout.WriteLine($"  floor:   {manifest.Floor} (no update below it once committed)");
        }

        if (!options.TryGetValue("--binary", out List<string>? binaryPaths))
        {
            return ExitCodes.Success;
        }
        string binaryPath = binaryPaths[^1];
        long size;
        string sha256;
        try
        {
            using FileStream stream = File.OpenRead(binaryPath);
            size = stream.Length;
            sha256 = Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"edgerelay {command}: cannot read --binary {binaryPath}: {ConfigCommands.Reason(e)}");
            return ExitCodes.Failure;
        }
        if (size != manifest.Size || sha256 != manifest.Sha256)
        {
            string what = size != manifest.Size
                ? string.Create(CultureInfo.InvariantCulture, $"it is {size} bytes, the manifest says {manifest.Size}")
                : $"its SHA-256 is {sha256}, the manifest says {manifest.Sha256}";
            stderr.WriteLine($"edgerelay {command}: --binary {binaryPath} does not match the manifest: {what} (a box would refuse it)");
            return ExitCodes.Failure;
        }
        stdout.WriteLine($"{binaryPath}: matches the manifest (size and SHA-256)");
        return ExitCodes.Success;
    }

    private static int Help(TextWriter stdout)
    {
        stdout.WriteLine(ReleaseUsage);
        return ExitCodes.Success;
    }
}
