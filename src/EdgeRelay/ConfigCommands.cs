using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Configuration;

namespace EdgeRelay;

/// <summary>
/// The operator's tools for cloud configuration: <c>edgerelay keygen</c> makes a signing key,
/// <c>edgerelay config sign</c> signs a document after validating it, <c>config verify</c> checks a signed
/// document as a box would, <c>config validate</c> checks a file without a box. Its helpers (options, files,
/// keys) serve <see cref="ReleaseCommands"/> as well.
/// </summary>
internal static class ConfigCommands
{
    public const string KeygenUsage = """
        Usage: edgerelay keygen --out FILE

        Makes an ECDSA P-256 signing key for configuration documents, or for releases (a key of its
        own: edgerelay release sign). The private key goes to FILE (PEM, readable by you only;
        an existing file is never overwritten): keep it where you sign, never on a box. The public key
        is printed: put it in cloud.trustedKeys of the boxes (a release key: in cloud.releaseKeys).
        """;

    public const string ConfigUsage = """
        Usage:
          edgerelay config sign --key KEY.pem [--out FILE] DOCUMENT.json
              validate a cloud document (it needs a "version") and sign it (JWS, ES256); the signed
              document goes to FILE, or to standard output
          edgerelay config verify (--trusted-key KEY | --bootstrap FILE)... SIGNED
              check a signed document as a box would: signature by a trusted key, then validity.
              KEY is a public key as keygen prints it, or a file holding one; FILE is a bootstrap
              file whose cloud.trustedKeys are used
          edgerelay config validate [--cloud] FILE
              check a configuration file (a bootstrap file; with --cloud, a cloud document) or the
              content of a signed document (its signature is not checked: use verify)

        Exit codes: 0 good, 2 not a valid configuration, 3 signature refused, 64 usage, 1 other errors.
        """;

    public static int Keygen(string[] args, TextWriter stdout, TextWriter stderr)
    {
        bool parsed = TryParse(args, 1, ["--out"], [], out Dictionary<string, List<string>> options, out List<string> rest, out string? error);
        if (options.ContainsKey("--help"))
        {
            stdout.WriteLine(KeygenUsage);
            return ExitCodes.Success;
        }
        if (!parsed || rest.Count > 0 || !options.ContainsKey("--out"))
        {
            return UsageError(stderr, "keygen", error ?? (rest.Count > 0 ? $"unexpected argument \"{rest[0]}\"" : "--out FILE is needed"), KeygenUsage);
        }
        string path = options["--out"][^1];
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            var file = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                file.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using var stream = new FileStream(path, file);
            stream.Write(Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem() + "\n"));
        }
        catch (IOException) when (File.Exists(path))
        {
            stderr.WriteLine($"edgerelay keygen: {path} exists already: it is never overwritten (a lost signing key locks the boxes out)");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"edgerelay keygen: cannot write {path}: {Reason(e)}");
            return ExitCodes.Failure;
        }
        TrustedKey publicKey = TrustedKey.FromSigningKey(key);
        stdout.WriteLine($"""
            Private key: {path} (keep it off the boxes: whoever has it can configure them)
            Key id:      {publicKey.KeyId}
            Public key, for cloud.trustedKeys:
            {publicKey}
            """);
        return ExitCodes.Success;
    }

    public static int Config(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length < 2 || args[1] is "--help" or "-h" or "help")
        {
            (args.Length < 2 ? stderr : stdout).WriteLine(ConfigUsage);
            return args.Length < 2 ? ExitCodes.Usage : ExitCodes.Success;
        }
        return args[1] switch
        {
            "sign" => Sign(args, stdout, stderr),
            "verify" => Verify(args, stdout, stderr),
            "validate" => Validate(args, stdout, stderr),
            _ => UsageError(stderr, "config", args[1].StartsWith('-')
                ? $"unknown option \"{args[1]}\"" : $"unknown command \"{args[1]}\" (expected sign, verify or validate)", ConfigUsage),
        };
    }

    private static int Sign(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (!TryParse(args, 2, ["--key", "--out"], [], out var options, out var rest, out string? error) || rest.Count != 1 || !options.ContainsKey("--key"))
        {
            return options.ContainsKey("--help") ? Help(stdout)
                : UsageError(stderr, "config sign", error ?? (rest.Count != 1 ? "one DOCUMENT.json is needed" : "--key KEY.pem is needed"), ConfigUsage);
        }
        string documentPath = rest[0];
        if (!TryRead(documentPath, "config sign", stderr, out string? json) || !TryRead(options["--key"][^1], "config sign", stderr, out string? keyText))
        {
            return ExitCodes.Failure;
        }
        using var key = ECDsa.Create();
        if (SigningKeyProblem(keyText, key) is string problem)
        {
            stderr.WriteLine($"edgerelay config sign: {options["--key"][^1]} is not an ECDSA P-256 private key in PEM: {problem} (make one with `edgerelay keygen`)");
            return ExitCodes.Failure;
        }
        RelayConfiguration document;
        try
        {
            document = ConfigurationReader.ParseCloudDocument(json, out _);
        }
        catch (ConfigurationException e)
        {
            stderr.WriteLine($"edgerelay config sign: {documentPath} is not a valid cloud document, nothing signed: {e.Message}");
            return ExitCodes.Configuration;
        }
        string signed = SignedDocument.Sign(Encoding.UTF8.GetBytes(json), key);
        string keyId = TrustedKey.FromSigningKey(key).KeyId;
        return WriteSigned("config sign", signed, options, stdout, stderr, path => $"Signed version {document.Version} of {documentPath} with key {keyId}: {path}");
    }

    private static int Verify(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (!TryParse(args, 2, ["--trusted-key", "--bootstrap"], [], out var options, out var rest, out string? error) || rest.Count != 1
            || !(options.ContainsKey("--trusted-key") || options.ContainsKey("--bootstrap")))
        {
            return options.ContainsKey("--help") ? Help(stdout)
                : UsageError(stderr, "config verify", error ?? (rest.Count != 1 ? "one SIGNED document is needed" : "--trusted-key KEY or --bootstrap FILE is needed"), ConfigUsage);
        }
        var keys = new List<TrustedKey>();
        RelayConfiguration? bootstrap = null;
        if (!TryReadTrustedKeys(options.GetValueOrDefault("--trusted-key") ?? [], "config verify", stderr, keys, out int keyExit))
        {
            return keyExit;
        }
        foreach (string path in options.GetValueOrDefault("--bootstrap") ?? [])
        {
            // A file that cannot be read is exit 1, as everywhere else, not a configuration error.
            if (!TryRead(path, "config verify", stderr, out string? bootstrapText))
            {
                return ExitCodes.Failure;
            }
            try
            {
                bootstrap = ConfigurationReader.Parse(bootstrapText);
            }
            catch (ConfigurationException e)
            {
                stderr.WriteLine($"edgerelay config verify: the bootstrap file {path} is not valid: {e.Message}");
                return ExitCodes.Configuration;
            }
            if (bootstrap.Cloud is null)
            {
                stderr.WriteLine($"edgerelay config verify: the bootstrap file {path} has no cloud section, so no trusted keys");
                return ExitCodes.Configuration;
            }
            keys.AddRange(bootstrap.Cloud.TrustedKeys);
        }
        if (!TryRead(rest[0], "config verify", stderr, out string? signed))
        {
            return ExitCodes.Failure;
        }
        SignatureCheck check = SignedDocument.Verify(signed, keys, out byte[] payload, out string? keyId);
        if (check != SignatureCheck.None)
        {
            stderr.WriteLine($"edgerelay config verify: {rest[0]}: refused: {SignedDocument.Describe(check, keyId)}");
            stderr.WriteLine($"  trusted: {string.Join(", ", keys.Select(k => k.KeyId))}");
            return ExitCodes.BadSignature;
        }
        try
        {
            RelayConfiguration document = bootstrap is null
                ? ConfigurationReader.ParseCloudDocument(Encoding.UTF8.GetString(payload), out _)
                : CloudConfiguration.FromPayload(bootstrap, payload, out _);
            stdout.WriteLine($"{rest[0]}: good signature by key {keyId}; version {document.Version}; {Describe(document)}");
            return ExitCodes.Success;
        }
        catch (ConfigurationException e)
        {
            stderr.WriteLine($"edgerelay config verify: {rest[0]}: good signature by key {keyId}, but not a valid configuration: {e.Message}");
            return ExitCodes.Configuration;
        }
    }

    private static int Validate(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (!TryParse(args, 2, [], ["--cloud"], out var options, out var rest, out string? error) || rest.Count != 1)
        {
            return options.ContainsKey("--help") ? Help(stdout)
                : UsageError(stderr, "config validate", error ?? "one FILE is needed", ConfigUsage);
        }
        string path = rest[0];
        if (!TryRead(path, "config validate", stderr, out string? text))
        {
            return ExitCodes.Failure;
        }
        bool signed = !text.TrimStart().StartsWith('{') && SignedDocument.TryReadPayloadUnverified(text, out _);
        try
        {
            RelayConfiguration configuration;
            if (signed)
            {
                SignedDocument.TryReadPayloadUnverified(text, out byte[] payload);
                configuration = ConfigurationReader.ParseCloudDocument(Encoding.UTF8.GetString(payload), out _);
            }
            else
            {
                configuration = options.ContainsKey("--cloud") ? ConfigurationReader.ParseCloudDocument(text, out _) : ConfigurationReader.Parse(text);
            }
            string kind = signed ? "signed cloud document (signature not checked: use `config verify`)" : options.ContainsKey("--cloud") ? "cloud document" : "configuration";
            stdout.WriteLine($"{path}: valid {kind}; version {configuration.Version}; {Describe(configuration)}");
            return ExitCodes.Success;
        }
        catch (ConfigurationException e)
        {
            stderr.WriteLine($"edgerelay config validate: {path}: {e.Message}");
            return ExitCodes.Configuration;
        }
    }

    /// <summary>
    /// Reads <c>--trusted-key</c> values into <paramref name="keys"/>: each a public key as keygen prints it, or a file
    /// holding one. False when one cannot be read, with the error written and <paramref name="exit"/> its exit code.
    /// </summary>
    internal static bool TryReadTrustedKeys(IEnumerable<string> values, string command, TextWriter stderr, List<TrustedKey> keys, out int exit)
    {
        exit = ExitCodes.Success;
        foreach (string keyText in values)
        {
            bool isFile = File.Exists(keyText);
            try
            {
                keys.Add(TrustedKey.Parse(isFile ? File.ReadAllText(keyText) : keyText));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"edgerelay {command}: --trusted-key {keyText}: cannot read it: {Reason(e)}");
                exit = ExitCodes.Failure;
                return false;
            }
            catch (FormatException e)
            {
                // A file name is shown whole; key text is shortened (it may be a private key pasted by mistake).
                // Base64 has no dot: with one, a file was meant.
                string what = isFile ? keyText : keyText.Contains('.', StringComparison.Ordinal) ? $"{keyText}: no such file, and not a public key either" : Shorten(keyText);
                stderr.WriteLine($"edgerelay {command}: --trusted-key {what}: {e.Message}");
                exit = ExitCodes.Usage;
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Imports the signing key; null when it is one, else what the file holds instead. The exception messages are
    /// not shown: the trimmed binary has resource keys in their place, and they would not say what to do.
    /// </summary>
    internal static string? SigningKeyProblem(string keyText, ECDsa key)
    {
        try
        {
            key.ImportFromPem(keyText);
        }
        catch (ArgumentException)
        {
            return PemEncoding.TryFind(keyText, out PemFields fields) ? $"it holds a \"{keyText[fields.Label]}\" PEM block" : "it holds no PEM block";
        }
        catch (CryptographicException)
        {
            return "it holds a key that is not an ECDSA key (an RSA key?), or a damaged one";
        }
        ECParameters parameters;
        try
        {
            parameters = key.ExportParameters(includePrivateParameters: true);
        }
        catch (CryptographicException)
        {
            // A public key imports fine, and signing with it would fail later with an unhandled exception.
            return "it holds a public key; signing needs the private key file that keygen wrote";
        }
        CryptographicOperations.ZeroMemory(parameters.D);
        return parameters.Curve.Oid.Value == ECCurve.NamedCurves.nistP256.Oid.Value ? null : "its curve is not P-256, which ES256 needs";
    }

    private static string Describe(RelayConfiguration c) =>
        $"{c.Listeners.Count} listener(s), {c.Auth.Users.Count} user(s), {c.Auth.SharedSecrets.Count} shared secret(s)"
        + (c.Cloud is null ? "" : $", cloud {c.Cloud.Url} with {c.Cloud.TrustedKeys.Count} trusted key(s)");

    /// <summary>Why a file could not be read or written, in words: in the trimmed binary, exception messages are resource keys.</summary>
    internal static string Reason(Exception e) => e switch
    {
        FileNotFoundException => "no such file",
        DirectoryNotFoundException => "no such directory",
        UnauthorizedAccessException => "permission denied, or it is a directory",
        _ => e.Message,
    };

    private static string Shorten(string text) => text.Length > 24 ? text[..24] + "…" : text;

    internal static bool TryRead(string path, string command, TextWriter stderr, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? text)
    {
        try
        {
            text = File.ReadAllText(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"edgerelay {command}: cannot read {path}: {Reason(e)}");
            text = null;
            return false;
        }
    }

    /// <summary>A signed document to <c>--out</c> (replaced atomically, world-readable: it is public) with <paramref name="done"/> on
    /// standard error, or to standard output.</summary>
    internal static int WriteSigned(string command, string signed, Dictionary<string, List<string>> options, TextWriter stdout, TextWriter stderr,
        Func<string, string> done)
    {
        if (!options.TryGetValue("--out", out List<string>? outPath))
        {
            stdout.WriteLine(signed);
            return ExitCodes.Success;
        }
        try
        {
            AtomicFile.Write(outPath[^1], Encoding.ASCII.GetBytes(signed + "\n"),
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"edgerelay {command}: cannot write {outPath[^1]}: {Reason(e)}");
            return ExitCodes.Failure;
        }
        stderr.WriteLine(done(outPath[^1]));
        return ExitCodes.Success;
    }

    private static int Help(TextWriter stdout)
    {
        stdout.WriteLine(ConfigUsage);
        return ExitCodes.Success;
    }

    internal static int UsageError(TextWriter stderr, string command, string problem, string usage)
    {
        stderr.WriteLine($"edgerelay {command}: {problem}\n\n{usage}");
        return ExitCodes.Usage;
    }

    /// <summary>
    /// Options from <paramref name="start"/> on: <paramref name="valued"/> take a value (<c>--key K</c> or
    /// <c>--key=K</c>, repeatable), <paramref name="flags"/> none; <c>--help</c> is always known; the rest are operands.
    /// </summary>
    internal static bool TryParse(string[] args, int start, string[] valued, string[] flags,
        out Dictionary<string, List<string>> options, out List<string> rest, out string? error)
    {
        options = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        rest = [];
        error = null;
        for (int i = start; i < args.Length; i++)
        {
            string arg = args[i];
            string name = arg.Split('=', 2)[0];
            if (arg is "--help" or "-h" || flags.Contains(arg))
            {
                options[arg is "-h" ? "--help" : arg] = [];
            }
            else if (valued.Contains(name))
            {
                string? value = arg.Contains('=', StringComparison.Ordinal) ? arg[(name.Length + 1)..] : i + 1 < args.Length ? args[++i] : null;
                if (value is null)
                {
                    error = $"{name} needs a value";
                    return false;
                }
                (options.TryGetValue(name, out List<string>? values) ? values : options[name] = []).Add(value);
            }
            else if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                error = $"unknown option \"{arg}\"";
                return false;
            }
            else
            {
                rest.Add(arg);
            }
        }
        return !options.ContainsKey("--help");
    }
}
