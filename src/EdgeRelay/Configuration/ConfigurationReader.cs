using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Appliance.Leds;
using EdgeRelay.Appliance.Update;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Configuration;

/// <summary>
/// Reads the JSON configuration (DESIGN.md) into a <see cref="RelayConfiguration"/>. Every rule of the
/// file lives here; a broken file is reported with the key, the value and what was expected, and
/// nothing is bound before it passes.
/// </summary>
public static class ConfigurationReader
{
    private const string EndpointExample = "IP:PORT, e.g. \"0.0.0.0:3478\" or \"[::]:3478\"";

    /// <summary>Passwords and secrets shorter than this are refused: a guessable one makes an open relay.</summary>
    public const int MinSecretLength = 8;

    /// <summary>The admin token guards actions on a LAN page: long enough that guessing it is hopeless.</summary>
    public const int MinAdminTokenLength = 20;

    public static RelayConfiguration ReadFile(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"cannot read {path}: {e.Message}");
        }
        return Parse(json);
    }

    /// <summary>A bootstrap file: the whole configuration, or a <c>cloud</c> section and what the box needs before the cloud answers.</summary>
    public static RelayConfiguration Parse(string json) => Parse(json, ConfigurationOrigin.Bootstrap, out _);

    /// <summary>
    /// A cloud document: the configuration with a <c>version</c> of 1 or more. What only the bootstrap file
    /// may say (<c>stateDirectory</c>, <c>cloud.url</c> and the like) is refused; <paramref name="overrides"/> is
    /// what it says of the cloud section. The caller merges it with the bootstrap (<see cref="CloudConfiguration.Merge"/>).
    /// </summary>
    public static RelayConfiguration ParseCloudDocument(string json, out CloudOverrides overrides) =>
        Parse(json, ConfigurationOrigin.Cloud, out overrides);

    private static RelayConfiguration Parse(string json, ConfigurationOrigin origin, out CloudOverrides overrides)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ConfigurationException($"not valid JSON: {e.Message}");
        }
        using (document)
        {
            return Read(document.RootElement, origin, out overrides);
        }
    }

    private static RelayConfiguration Read(JsonElement root, ConfigurationOrigin origin, out CloudOverrides overrides)
    {
        var top = new JsonSection(root, "", "realm", "listeners", "relay", "auth", "peers", "status", "leds", "limits", "engine", "stateDirectory", "logLevel",
            "version", "cloud", "natDiscovery", "selfCheck", "alternateServers", "time", "update");
        overrides = new CloudOverrides(null, null);
        CloudOptions? cloud = null;
        if (top.TryGet("cloud", out JsonElement cloudElement))
        {
            if (origin == ConfigurationOrigin.Bootstrap)
            {
                cloud = ReadCloud(cloudElement);
            }
            else
            {
                overrides = ReadCloudOverrides(cloudElement);
            }
        }
        long version = origin == ConfigurationOrigin.Cloud
            ? top.GetInt64("version", 1, long.MaxValue) ?? throw new ConfigurationException("version: missing: a cloud document needs a version (a whole number that grows with every change, e.g. 42)")
            : top.GetInt64("version", 0, long.MaxValue) ?? 0;
        if (origin == ConfigurationOrigin.Cloud && top.TryGet("stateDirectory", out _))
        {
            throw new ConfigurationException("stateDirectory: only the bootstrap file may set it (the box keeps its state where the bootstrap says)");
        }

        string realm = top.GetString("realm") ?? "edgerelay.local";
        // RFC 8489 §14.9: REALM is fewer than 128 characters.
        if (realm.Length == 0 || realm.Length >= 128 || realm.Any(char.IsControl))
        {
            throw top.Invalid("realm", realm, "a non-empty name of fewer than 128 characters, such as a domain name");
        }

        // A box provisioned with only its cloud section has no listener until the cloud's document comes.
        IReadOnlyList<ListenerConfiguration> listeners = cloud is not null && !top.TryGet("listeners", out _) ? [] : ReadListeners(top);
        RelaySection relay = top.TryGet("relay", out JsonElement relayElement) ? ReadRelay(relayElement) : new RelaySection();
        AuthSection auth = top.TryGet("auth", out JsonElement authElement) ? ReadAuth(authElement) : new AuthSection();
        PeersSection peers = top.TryGet("peers", out JsonElement peersElement) ? ReadPeers(peersElement) : new PeersSection();
        StatusSection? status = top.TryGet("status", out JsonElement statusElement) ? ReadStatus(statusElement) : null;
        LimitsSection limits = top.TryGet("limits", out JsonElement limitsElement) ? ReadLimits(limitsElement) : new LimitsSection();
        EngineSection engine = top.TryGet("engine", out JsonElement engineElement) ? ReadEngine(engineElement) : new EngineSection();
        LedOptions leds = top.TryGet("leds", out JsonElement ledsElement) ? ReadLeds(ledsElement) : new LedOptions();
        NatDiscoverySection natDiscovery = top.TryGet("natDiscovery", out JsonElement natElement) ? ReadNatDiscovery(natElement, listeners) : new NatDiscoverySection();
        IReadOnlyList<IPEndPoint> alternateServers = ReadAlternateServers(top, listeners);
        SelfCheckSection selfCheck = top.TryGet("selfCheck", out JsonElement selfCheckElement) ? ReadSelfCheck(selfCheckElement) : new SelfCheckSection();
        TimeSection time = top.TryGet("time", out JsonElement timeElement) ? ReadTime(timeElement) : new TimeSection();
        UpdateTarget? update = top.TryGet("update", out JsonElement updateElement) ? ReadUpdate(updateElement) : null;
        if (update is not null && origin == ConfigurationOrigin.Bootstrap && cloud is null)
        {
            throw new ConfigurationException("update: needs a cloud section: releases come from the cloud's hosts, checked with its keys (cloud.releaseKeys)");
        }
        if (relay.ExternalAddressAuto && !selfCheck.Enabled)
        {
            throw new ConfigurationException(
                "relay.externalAddress: \"auto\" needs selfCheck.stunServers: the public address is what those STUN servers see, e.g. \"selfCheck\": { \"stunServers\": [\"stun.example.net:3478\"] }");
        }

        string stateDirectory = top.GetString("stateDirectory") ?? "/var/lib/edgerelay";
        if (!Path.IsPathFullyQualified(stateDirectory))
        {
            throw top.Invalid("stateDirectory", stateDirectory, "an absolute path");
        }

        string logLevelText = top.GetString("logLevel") ?? "information";
        LogLevel logLevel = logLevelText.ToLowerInvariant() switch
        {
            "trace" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "information" or "info" => LogLevel.Information,
            "warning" => LogLevel.Warning,
            "error" => LogLevel.Error,
            _ => throw top.Invalid("logLevel", logLevelText, "one of trace, debug, information, warning, error"),
        };

        return new RelayConfiguration
        {
            Realm = realm,
            Listeners = listeners,
            Relay = relay,
            Auth = auth,
            Peers = peers,
            Status = status,
            Limits = limits,
            Engine = engine,
            NatDiscovery = natDiscovery,
            SelfCheck = selfCheck,
            Time = time,
            Update = update,
            AlternateServers = alternateServers,
            Leds = leds,
            StateDirectory = stateDirectory,
            LogLevel = logLevel,
            Version = version,
            Cloud = cloud,
        };
    }

    /// <summary>Device tokens are secrets: long enough not to be guessed.</summary>
    public const int MinDeviceTokenLength = 16;

    private static readonly string[] CloudKeys = ["url", "trustedKeys", "deviceToken", "pollIntervalSeconds", "timeoutSeconds", "maxBackoffSeconds",
        "maxDocumentBytes", "caCertificate", "reportUrl", "reportIntervalSeconds", "deviceId", "releaseKeys"];

    private static CloudOptions ReadCloud(JsonElement element)
    {
        var section = new JsonSection(element, "cloud", CloudKeys);
        string url = section.GetString("url") ?? throw new ConfigurationException("cloud.url: missing: expected the https:// URL of this box's signed configuration");
        if (Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) && !string.IsNullOrEmpty(uri.UserInfo))
        {
            // Not echoed: it holds a password. The device token is the way to authenticate.
            throw new ConfigurationException("cloud.url: not valid: expected no user name or password in the URL (use cloud.deviceToken)");
        }
        if (uri is null || uri.Scheme != Uri.UriSchemeHttps)
        {
            throw section.Invalid("url", url, "an https:// URL, e.g. \"https://config.example.com/boxes/venue-12.jws\"");
        }
        IReadOnlyList<TrustedKey> keys = ReadTrustedKeys(section, "trustedKeys")
            ?? throw new ConfigurationException("cloud.trustedKeys: missing: expected the public keys whose signature is accepted (`edgerelay keygen` prints one)");
        string? token = section.GetString("deviceToken");
        if (token is not null && (token.Length < MinDeviceTokenLength || token.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))))
        {
            // A secret: never echoed.
            throw new ConfigurationException($"cloud.deviceToken: not valid: expected at least {MinDeviceTokenLength} characters without spaces");
        }
        X509Certificate2? ca = null;
        string? caCertificate = section.GetString("caCertificate");
        if (caCertificate is not null && caCertificate.TrimStart().StartsWith("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            // Inline: a bootstrap file that travels alone (the image's FAT partition) can carry its CA with it.
            try
            {
                ca = X509Certificate2.CreateFromPem(caCertificate);
            }
            catch (CryptographicException e)
            {
                throw new ConfigurationException($"cloud.caCertificate: the inline PEM is not valid: expected one certificate between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE----- ({e.Message})");
            }
        }
        else if (caCertificate is { } caPath)
        {
            try
            {
                ca = X509CertificateLoader.LoadCertificate(File.ReadAllBytes(caPath));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw section.Invalid("caCertificate", caPath, $"a readable PEM or DER certificate file, or a PEM certificate inline ({e.Message})");
            }
        }
        Uri? reportUrl = null;
        if (section.GetString("reportUrl") is string report
            && (!Uri.TryCreate(report, UriKind.Absolute, out reportUrl) || reportUrl.Scheme != Uri.UriSchemeHttps || !string.IsNullOrEmpty(reportUrl.UserInfo)))
        {
            throw new ConfigurationException("cloud.reportUrl: not valid: expected an https:// URL without user name or password");
        }
        string? deviceId = section.GetString("deviceId");
        if (deviceId is not null && (deviceId.Length is 0 or > 128 || deviceId.Any(char.IsControl)))
        {
            throw section.Invalid("deviceId", deviceId, "a name of 1 to 128 characters, e.g. \"venue-12\"");
        }
        var defaults = new CloudOptions { Url = uri, TrustedKeys = keys };
        return defaults with
        {
            DeviceToken = token,
            PollInterval = ReadSeconds(section, "pollIntervalSeconds", 1, 86400) ?? defaults.PollInterval,
            Timeout = ReadSeconds(section, "timeoutSeconds", 1, 300) ?? defaults.Timeout,
            MaxBackoff = ReadSeconds(section, "maxBackoffSeconds", 1, 86400) ?? defaults.MaxBackoff,
            MaxDocumentBytes = section.GetInt32("maxDocumentBytes", 4096, 16 * 1024 * 1024) ?? defaults.MaxDocumentBytes,
            CaCertificate = ca,
            ReportUrl = reportUrl,
            ReportInterval = ReadSeconds(section, "reportIntervalSeconds", 10, 86400) ?? defaults.ReportInterval,
            DeviceId = deviceId ?? defaults.DeviceId,
            ReleaseKeys = ReadTrustedKeys(section, "releaseKeys"),
        };
    }

    /// <summary>A cloud document may rotate the trusted keys and change the poll interval; the rest of the section is the bootstrap's.</summary>
    private static CloudOverrides ReadCloudOverrides(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty property in element.EnumerateObject())
            {
                if (property.Name is not ("trustedKeys" or "pollIntervalSeconds") && CloudKeys.Contains(property.Name))
                {
                    throw new ConfigurationException($"cloud.{property.Name}: only the bootstrap file may set it; a cloud document may set cloud.trustedKeys and cloud.pollIntervalSeconds");
                }
            }
        }
        var section = new JsonSection(element, "cloud", "trustedKeys", "pollIntervalSeconds");
        return new CloudOverrides(ReadTrustedKeys(section, "trustedKeys"), ReadSeconds(section, "pollIntervalSeconds", 1, 86400));
    }

    private static IReadOnlyList<TrustedKey>? ReadTrustedKeys(JsonSection section, string key)
    {
        if (!section.TryGet(key, out _))
        {
            return null;
        }
        IReadOnlyList<string> texts = section.GetStringArray(key);
        if (texts.Count == 0)
        {
            throw new ConfigurationException($"cloud.{key}: empty: expected at least one public key, or no {(key == "trustedKeys" ? "document" : "release")} could ever be accepted");
        }
        var keys = new List<TrustedKey>();
        for (int i = 0; i < texts.Count; i++)
        {
            try
            {
                keys.Add(TrustedKey.Parse(texts[i]));
            }
            catch (FormatException e)
            {
                throw new ConfigurationException($"cloud.{key}[{i}]: not valid: {e.Message}");
            }
        }
        return keys;
    }

    private static TimeSpan? ReadSeconds(JsonSection section, string key, int min, int max) =>
        section.GetInt32(key, min, max) is int seconds ? TimeSpan.FromSeconds(seconds) : null;

    private static IReadOnlyList<ListenerConfiguration> ReadListeners(JsonSection top)
    {
        if (top.GetArray("listeners") is not JsonElement array || array.GetArrayLength() == 0)
        {
            throw new ConfigurationException("listeners: missing: expected at least one listener, e.g. [{ \"transport\": \"udp\", \"endpoint\": \"0.0.0.0:3478\" }]");
        }
        var listeners = new List<ListenerConfiguration>();
        int index = 0;
        foreach (JsonElement element in array.EnumerateArray())
        {
            var section = new JsonSection(element, $"listeners[{index}]", "transport", "endpoint", "certificate", "privateKey");
            string transportText = section.GetString("transport")
                ?? throw new ConfigurationException($"{section.PathOf("transport")}: missing: expected \"udp\", \"tcp\" or \"tls\"");
            ListenerTransport transport = transportText switch
            {
                "udp" => ListenerTransport.Udp,
                "tcp" => ListenerTransport.Tcp,
                "tls" => ListenerTransport.Tls,
                _ => throw section.Invalid("transport", transportText, "\"udp\", \"tcp\" or \"tls\""),
            };
            IPEndPoint endpoint = ReadEndpoint(section, "endpoint", required: true)!;
            string? certificate = section.GetString("certificate");
            string? privateKey = section.GetString("privateKey");
            if (transport == ListenerTransport.Tls && (certificate is null || privateKey is null))
            {
                throw new ConfigurationException($"{section.Path}: a tls listener needs \"certificate\" and \"privateKey\" (PEM file paths)");
            }
            if (transport != ListenerTransport.Tls && (certificate is not null || privateKey is not null))
            {
                throw new ConfigurationException($"{section.Path}: \"certificate\" and \"privateKey\" belong to tls listeners only");
            }
            if (listeners.Any(l => l.Transport == transport && l.Endpoint.Equals(endpoint)))
            {
                throw new ConfigurationException($"{section.PathOf("endpoint")}: \"{endpoint}\" is listed twice for {transportText}");
            }
            listeners.Add(new ListenerConfiguration(transport, endpoint, certificate, privateKey));
            index++;
        }
        return listeners;
    }

    private static RelaySection ReadRelay(JsonElement element)
    {
        var section = new JsonSection(element, "relay", "address", "externalAddress", "ipv6Address", "ipv6ExternalAddress", "portRange");
        bool auto = section.GetString("externalAddress") == "auto";
        var relay = new RelaySection
        {
            Address = ReadRelayAddress(section, "address", AddressFamily.InterNetwork) ?? IPAddress.Any,
            ExternalAddressAuto = auto,
            ExternalAddress = auto ? null : ReadExternalAddress(section, "externalAddress", AddressFamily.InterNetwork),
            Ipv6Address = ReadRelayAddress(section, "ipv6Address", AddressFamily.InterNetworkV6),
            Ipv6ExternalAddress = ReadExternalAddress(section, "ipv6ExternalAddress", AddressFamily.InterNetworkV6),
        };
        if (relay.Ipv6ExternalAddress is not null && relay.Ipv6Address is null)
        {
            throw new ConfigurationException("relay.ipv6ExternalAddress: set, but relay.ipv6Address is not: expected both, or neither");
        }
        if (section.GetString("portRange") is string range)
        {
            string[] parts = range.Split('-');
            if (parts.Length != 2
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int min)
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int max)
                || min < 1024 || max > 65535 || min > max)
            {
                throw section.Invalid("portRange", range, "\"FIRST-LAST\" with 1024 <= FIRST <= LAST <= 65535, e.g. \"49152-65535\"");
            }
            relay = relay with { PortMin = min, PortMax = max };
        }
        return relay;
    }

    private static IPAddress? ReadRelayAddress(JsonSection section, string key, AddressFamily family)
    {
        if (section.GetString(key) is not string text)
        {
            return null;
        }
        IPAddress address = ParseAddress(section, key, text);
        if (address.AddressFamily != family)
        {
            throw section.Invalid(key, text, family == AddressFamily.InterNetwork
                ? "an IPv4 address such as \"0.0.0.0\" (IPv6 relaying goes in relay.ipv6Address)"
                : "an IPv6 address such as \"::\"");
        }
        return address;
    }

    private static IPAddress? ReadExternalAddress(JsonSection section, string key, AddressFamily family)
    {
        if (family == AddressFamily.InterNetwork && section.GetString(key) is { } text && !IsStrictAddress(text))
        {
            throw section.Invalid(key, text, "an IPv4 address such as \"203.0.113.7\", or \"auto\" (the public address the self-check finds)");
        }
        IPAddress? address = ReadRelayAddress(section, key, family);
        if (address is not null && (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)))
        {
            throw section.Invalid(key, address.ToString(), "the address clients reach this relay at, not an unspecified address");
        }
        return address;
    }

    private static AuthSection ReadAuth(JsonElement element)
    {
        var section = new JsonSection(element, "auth", "users", "sharedSecrets", "allowAnonymous", "restMaxValiditySeconds", "nonceLifetimeSeconds");
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        if (section.TryGet("users", out JsonElement usersElement))
        {
            if (usersElement.ValueKind != JsonValueKind.Object)
            {
                throw section.Invalid("users", usersElement, "an object mapping user names to passwords");
            }
            foreach (JsonProperty user in usersElement.EnumerateObject())
            {
                string path = $"auth.users.{user.Name}";
                // RFC 8489 §14.3: USERNAME is fewer than 509 bytes. A colon would read as a TURN REST name.
                if (user.Name.Length == 0 || Encoding.UTF8.GetByteCount(user.Name) >= 509 || user.Name.Any(char.IsControl))
                {
                    throw new ConfigurationException($"{path}: the user name is not valid: expected 1 to 508 bytes of UTF-8 without control characters");
                }
                if (user.Value.ValueKind != JsonValueKind.String || user.Value.GetString()!.Length < MinSecretLength)
                {
                    // The value is a password: it is never repeated in a message.
                    throw new ConfigurationException($"{path}: the password is not valid: expected a string of at least {MinSecretLength} characters");
                }
                users[user.Name] = user.Value.GetString()!;
            }
        }
        IReadOnlyList<string> secrets = section.GetStringArray("sharedSecrets");
        for (int i = 0; i < secrets.Count; i++)
        {
            if (secrets[i].Length < MinSecretLength)
            {
                throw new ConfigurationException($"auth.sharedSecrets[{i}]: the secret is not valid: expected a string of at least {MinSecretLength} characters");
            }
        }
        return new AuthSection
        {
            Users = users,
            SharedSecrets = secrets,
            AllowAnonymous = section.GetBoolean("allowAnonymous") ?? false,
            RestMaxValiditySeconds = section.GetInt32("restMaxValiditySeconds", 60, 30 * 86400) ?? 86400,
            NonceLifetimeSeconds = section.GetInt32("nonceLifetimeSeconds", 30, 3600) ?? 600,
        };
    }

    private static PeersSection ReadPeers(JsonElement element)
    {
        var section = new JsonSection(element, "peers", "allowLoopback", "allow", "deny");
        return new PeersSection
        {
            AllowLoopback = section.GetBoolean("allowLoopback") ?? false,
            Allow = ReadNetworks(section, "allow"),
            Deny = ReadNetworks(section, "deny"),
        };
    }

    private static IReadOnlyList<IPNetwork> ReadNetworks(JsonSection section, string key)
    {
        IReadOnlyList<string> items = section.GetStringArray(key);
        var networks = new List<IPNetwork>();
        for (int i = 0; i < items.Count; i++)
        {
            // "10.0.0.1/8" parses as 10.0.0.0/8; a typo like that must not open a whole network silently.
            int slash = items[i].IndexOf('/');
            if (slash < 0 || !IPNetwork.TryParse(items[i], out IPNetwork network)
                || !IsStrictAddress(items[i][..slash]) || !IPAddress.Parse(items[i][..slash]).Equals(network.BaseAddress))
            {
                throw new ConfigurationException($"{section.PathOf(key)}[{i}]: \"{items[i]}\" is not valid: expected a CIDR such as \"10.20.0.0/16\" or \"2001:db8::/32\" (no host bits set)");
            }
            networks.Add(network);
        }
        return networks;
    }

    private static StatusSection ReadStatus(JsonElement element)
    {
        var section = new JsonSection(element, "status", "endpoint", "adminToken", "hostNames");
        string? token = section.GetString("adminToken");
        if (token is not null && token.Length < MinAdminTokenLength)
        {
            // Never echo the value: it is a secret, even a bad one.
            throw new ConfigurationException($"status.adminToken: too short: expected at least {MinAdminTokenLength} characters (e.g. `openssl rand -base64 24`)");
        }
        return new StatusSection(ReadEndpoint(section, "endpoint", required: true)!)
        {
            AdminToken = token,
            HostNames = section.GetStringArray("hostNames"),
        };
    }

    private static LimitsSection ReadLimits(JsonElement element)
    {
        var section = new JsonSection(element, "limits", "maxAllocations", "maxAllocationsPerUser", "maxPermissionsPerAllocation",
            "maxChannelsPerAllocation", "maxLifetimeSeconds", "maxConnections", "maxConnectionsPerAddress", "connectionIdleSeconds",
            "maxBufferedBytesPerConnection", "tlsHandshakeSeconds", "challengesPerSecondPerAddress", "failedLoginsPerMinutePerUser",
            "requestsPerSecondPerAllocation");
        var defaults = new LimitsSection();
        return new LimitsSection
        {
            MaxAllocations = section.GetInt32("maxAllocations", 1, 1_000_000) ?? defaults.MaxAllocations,
            MaxAllocationsPerUser = section.GetInt32("maxAllocationsPerUser", 1, 1_000_000) ?? defaults.MaxAllocationsPerUser,
            MaxPermissionsPerAllocation = section.GetInt32("maxPermissionsPerAllocation", 1, 10_000) ?? defaults.MaxPermissionsPerAllocation,
            MaxChannelsPerAllocation = section.GetInt32("maxChannelsPerAllocation", 1, 4096) ?? defaults.MaxChannelsPerAllocation,
            // RFC 8656 §7.2: at least the default 600 s; at most an hour is recommended.
            MaxLifetimeSeconds = section.GetInt32("maxLifetimeSeconds", 600, 86400) ?? defaults.MaxLifetimeSeconds,
            MaxConnections = section.GetInt32("maxConnections", 1, 1_000_000) ?? defaults.MaxConnections,
            MaxConnectionsPerAddress = section.GetInt32("maxConnectionsPerAddress", 1, 1_000_000) ?? defaults.MaxConnectionsPerAddress,
            ConnectionIdleSeconds = section.GetInt32("connectionIdleSeconds", 1, 3600) ?? defaults.ConnectionIdleSeconds,
            // At least one whole message of the largest size a stream can carry.
            MaxBufferedBytesPerConnection = section.GetInt32("maxBufferedBytesPerConnection", 70_000, 64 * 1024 * 1024) ?? defaults.MaxBufferedBytesPerConnection,
            TlsHandshakeSeconds = section.GetInt32("tlsHandshakeSeconds", 1, 120) ?? defaults.TlsHandshakeSeconds,
            ChallengesPerSecondPerAddress = section.GetInt32("challengesPerSecondPerAddress", 1, 100_000) ?? defaults.ChallengesPerSecondPerAddress,
            FailedLoginsPerMinutePerUser = section.GetInt32("failedLoginsPerMinutePerUser", 1, 100_000) ?? defaults.FailedLoginsPerMinutePerUser,
            RequestsPerSecondPerAllocation = section.GetInt32("requestsPerSecondPerAllocation", 1, 100_000) ?? defaults.RequestsPerSecondPerAllocation,
        };
    }

    private static LedOptions ReadLeds(JsonElement element)
    {
        var section = new JsonSection(element, "leds", "driver", "gpioChip", "greenPin", "amberPin", "redPin", "activeLow",
            "sysfsRoot", "greenName", "amberName", "redName");
        string driver = section.GetString("driver") ?? "none";
        var options = new LedOptions
        {
            Driver = driver switch
            {
                "none" => LedDriverKind.None,
                "console" => LedDriverKind.Console,
                "gpio" => LedDriverKind.Gpio,
                "sysfs" => LedDriverKind.Sysfs,
                _ => throw section.Invalid("driver", driver, "\"gpio\", \"sysfs\", \"console\" or \"none\""),
            },
            GpioChip = section.GetInt32("gpioChip", 0, 63) ?? 0,
            GreenPin = section.GetInt32("greenPin", 0, 1023),
            AmberPin = section.GetInt32("amberPin", 0, 1023),
            RedPin = section.GetInt32("redPin", 0, 1023),
            ActiveLow = section.GetBoolean("activeLow") ?? false,
            SysfsRoot = section.GetString("sysfsRoot") ?? LedOptions.DefaultSysfsRoot,
            GreenName = LedName(section, "greenName"),
            AmberName = LedName(section, "amberName"),
            RedName = LedName(section, "redName"),
        };
        if (options.Driver == LedDriverKind.Gpio && options.GreenPin is null && options.AmberPin is null && options.RedPin is null)
        {
            throw new ConfigurationException("leds.greenPin: missing: the gpio driver needs at least one of greenPin, amberPin, redPin (GPIO line numbers of leds.gpioChip)");
        }
        if (!Path.IsPathFullyQualified(options.SysfsRoot))
        {
            throw section.Invalid("sysfsRoot", options.SysfsRoot, "an absolute path such as /sys/class/leds");
        }
        return options;
    }

    /// <summary>A directory name under the sysfs root, e.g. "ACT": never a path.</summary>
    private static string? LedName(JsonSection section, string key)
    {
        string? name = section.GetString(key);
        if (name is not null && (name.Length == 0 || name.Contains('/', StringComparison.Ordinal) || name is "." or ".."))
        {
            throw section.Invalid(key, name, "the name of an LED directory under leds.sysfsRoot, such as \"ACT\"");
        }
        return name;
    }

    private static EngineSection ReadEngine(JsonElement element)
    {
        var section = new JsonSection(element, "engine", "backend", "loops");
        string backend = section.GetString("backend") ?? "auto";
        return new EngineSection
        {
            Backend = backend switch
            {
                "auto" => EdgeRelay.Net.SocketBackend.Auto,
                "io_uring" when OperatingSystem.IsLinux() => EdgeRelay.Net.SocketBackend.IoUring,
                "recvmmsg" when OperatingSystem.IsLinux() => EdgeRelay.Net.SocketBackend.RecvMmsg,
                "portable" => EdgeRelay.Net.SocketBackend.Portable,
                _ => throw section.Invalid("backend", backend, OperatingSystem.IsLinux()
                    ? "\"auto\", \"io_uring\", \"recvmmsg\" or \"portable\"" : "\"auto\" or \"portable\" (io_uring and recvmmsg need Linux)"),
            },
            Loops = section.GetInt32("loops", 0, 256) ?? 0,
        };
    }

    /// <summary>selfCheck: STUN servers (IPv4 or names: the check judges the IPv4 relayed addresses), interval and timeout.</summary>
    private static SelfCheckSection ReadSelfCheck(JsonElement element)
    {
        var section = new JsonSection(element, "selfCheck", "stunServers", "intervalSeconds", "timeoutSeconds");
        var servers = new List<StunServerAddress>();
        IReadOnlyList<string> texts = section.GetStringArray("stunServers");
        for (int i = 0; i < texts.Count; i++)
        {
            if (!StunServerAddress.TryParse(texts[i], out StunServerAddress? server, out string error))
            {
                throw new ConfigurationException($"selfCheck.stunServers[{i}]: {error}");
            }
            if (IPAddress.TryParse(server!.Host, out IPAddress? literal) && literal.AddressFamily != AddressFamily.InterNetwork)
            {
                throw new ConfigurationException(
                    $"selfCheck.stunServers[{i}]: \"{texts[i]}\" is not valid: expected an IPv4 address or a host name (the check runs from relay.address, over IPv4)");
            }
            servers.Add(server!);
        }
        return new SelfCheckSection
        {
            StunServers = servers,
            // Each check sends a few dozen datagrams: every 30 s at the most often, once a day at the least.
            IntervalSeconds = section.GetInt32("intervalSeconds", 30, 86400) ?? 900,
            TimeoutSeconds = section.GetInt32("timeoutSeconds", 1, 30) ?? 2,
        };
    }

    /// <summary>
    /// update: the release the box should run (README, "Updates"). The manifest is fetched over https only:
    /// it is signed, but the device token may go with it and a downgrade of the channel is a sign of trouble.
    /// </summary>
    private static UpdateTarget ReadUpdate(JsonElement element)
    {
        var section = new JsonSection(element, "update", "version", "manifestUrl", "allowDowngrade", "healthTimeoutSeconds", "soakSeconds", "window", "drainSeconds");
        string version = section.GetString("version") ?? throw new ConfigurationException("update.version: missing: expected the release's version, e.g. \"1.4.2\"");
        if (!ReleaseVersion.TryParse(version, out _))
        {
            throw section.Invalid("version", version, "numbers joined by dots, e.g. \"1.4.2\"");
        }
        string url = section.GetString("manifestUrl") ?? throw new ConfigurationException("update.manifestUrl: missing: expected the https:// URL of the release's signed manifest");
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? manifestUrl) || manifestUrl.Scheme != Uri.UriSchemeHttps || !string.IsNullOrEmpty(manifestUrl.UserInfo))
        {
            throw section.Invalid("manifestUrl", url, "an https:// URL without user name or password, e.g. \"https://releases.example.com/edgerelay-1.4.2-linux-arm64.jws\"");
        }
        UpdateWindow? window = null;
        if (section.GetString("window") is string windowText)
        {
            string[] parts = windowText.Split('-');
            if (parts.Length != 2 || !TimeOnly.TryParseExact(parts[0], "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out TimeOnly start)
                || !TimeOnly.TryParseExact(parts[1], "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out TimeOnly end) || start == end)
            {
                throw section.Invalid("window", windowText, "two different UTC times HH:MM-HH:MM, e.g. \"02:00-05:00\" (it may wrap midnight: \"23:00-04:00\")");
            }
            window = new UpdateWindow(start, end);
        }
        TimeSpan healthTimeout = ReadSeconds(section, "healthTimeoutSeconds", 30, 3600) ?? UpdateTarget.DefaultHealthTimeout;
        TimeSpan? soak = ReadSeconds(section, "soakSeconds", 1, 3600);
        if (soak > healthTimeout / 2)
        {
            throw new ConfigurationException(string.Create(CultureInfo.InvariantCulture,
                $"update.soakSeconds: {soak.Value.TotalSeconds:0} is not valid: expected at most half of update.healthTimeoutSeconds ({healthTimeout.TotalSeconds:0}), so that the release has the rest to become healthy"));
        }
        return new UpdateTarget(version, manifestUrl, section.GetBoolean("allowDowngrade") ?? false, healthTimeout, window,
            TimeSpan.FromSeconds(section.GetInt32("drainSeconds", 0, 86400) ?? 600), soak);
    }

    /// <summary>At most this many NTP servers: timesyncd tries them in turn, and a list this long is a mistake.</summary>
    public const int MaxNtpServers = 16;

    /// <summary>
    /// time: NTP servers as systemd-timesyncd's NTP= takes them (timesyncd.conf(5): host names or IP addresses,
    /// separated by spaces). Each must be a name or an address and nothing else: the list ends up in a file
    /// that root hands to timesyncd, so a space, a newline or a port would change what that file says.
    /// </summary>
    private static TimeSection ReadTime(JsonElement element)
    {
        var section = new JsonSection(element, "time", "ntpServers", "requireSynchronisation");
        IReadOnlyList<string> servers = section.GetStringArray("ntpServers");
        if (servers.Count > MaxNtpServers)
        {
            throw new ConfigurationException($"time.ntpServers: {servers.Count} servers is too many: expected at most {MaxNtpServers}");
        }
        for (int i = 0; i < servers.Count; i++)
        {
            if (!IsNtpServer(servers[i]))
            {
                throw new ConfigurationException($"time.ntpServers[{i}]: \"{servers[i]}\" is not valid: expected a host name or an IP address, " +
                    "without a port, e.g. \"ntp.example.com\" or \"192.168.1.1\"");
            }
        }
        return new TimeSection
        {
            NtpServers = servers,
            RequireSynchronisation = section.GetBoolean("requireSynchronisation") ?? true,
        };
    }

    /// <summary>An IPv4 or IPv6 address, or a DNS host name (RFC 1123 §2.1: letters, digits, hyphens; labels of 1-63, 253 in all).</summary>
    private static bool IsNtpServer(string text)
    {
        if (text.Length is 0 or > 253)
        {
            return false;
        }
        if (text.Contains(':'))
        {
            // A plain IPv6 address, as timesyncd.conf(5) takes it: IPAddress.TryParse would also take "[::1]".
            return !text.Contains('[') && IsStrictAddress(text);
        }
        if (text.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            // All digits and dots is an IPv4 address or nothing: "10.1" is not a name.
            return IsStrictAddress(text);
        }
        string name = text.EndsWith('.') ? text[..^1] : text;
        return name.Split('.').All(label => label.Length is > 0 and <= 63 && label[0] != '-' && label[^1] != '-'
            && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'));
    }

    /// <summary>
    /// natDiscovery (RFC 5780): the primary address and port are those of the one UDP listener on a specific
    /// address (of the alternate address's family), since RESPONSE-ORIGIN (§7.3) names the address a request
    /// came in on; the alternate address and port make the other three endpoints (§6.1 Table 1), none of which
    /// may be a listener already.
    /// </summary>
    private static NatDiscoverySection ReadNatDiscovery(JsonElement element, IReadOnlyList<ListenerConfiguration> listeners)
    {
        var section = new JsonSection(element, "natDiscovery", "enabled", "alternateAddress", "alternatePort");
        bool enabled = section.GetBoolean("enabled") ?? false;
        string? text = section.GetString("alternateAddress");
        IPAddress? alternate = text is null ? null : ParseAddress(section, "alternateAddress", text);
        int? alternatePort = section.GetInt32("alternatePort", 1, 65535);
        if (alternate is not null && (alternate.Equals(IPAddress.Any) || alternate.Equals(IPAddress.IPv6Any)))
        {
            throw section.Invalid("alternateAddress", text!, "a specific address of this host, not an unspecified one (RFC 5780 answers with the address it sends from)");
        }
        if (alternate is not null && alternatePort is null)
        {
            throw new ConfigurationException("natDiscovery.alternatePort: missing: expected the second port that goes with natDiscovery.alternateAddress, e.g. 3479");
        }
        if (alternate is null && alternatePort is not null)
        {
            throw new ConfigurationException("natDiscovery.alternatePort: set, but natDiscovery.alternateAddress is not: RFC 5780 §6 needs the same ports on two addresses, so expected both, or neither");
        }
        if (!enabled)
        {
            return new NatDiscoverySection { AlternateAddress = alternate, AlternatePort = alternatePort ?? 0 };
        }

        List<IPEndPoint> candidates = listeners
            .Where(l => l.Transport == ListenerTransport.Udp && !IsUnspecified(l.Endpoint.Address)
                        && (alternate is null || l.Endpoint.AddressFamily == alternate.AddressFamily))
            .Select(l => l.Endpoint).ToList();
        if (candidates.Count > 1 && alternate is not null)
        {
            // One that sits on an alternate endpoint is not the primary: that clash is reported below.
            candidates = candidates.Where(e => !e.Address.Equals(alternate) && e.Port != alternatePort).DefaultIfEmpty(candidates[0]).ToList();
        }
        string family = alternate is null ? "" : alternate.AddressFamily == AddressFamily.InterNetwork ? " IPv4" : " IPv6";
        if (candidates.Count == 0)
        {
            throw new ConfigurationException($"natDiscovery.enabled: true needs a udp listener on a specific{family} address (not 0.0.0.0 or ::), " +
                "whose address and port are RFC 5780's primary ones: a response names the address it is sent from (RESPONSE-ORIGIN)");
        }
        if (candidates.Count > 1)
        {
            throw new ConfigurationException($"natDiscovery.enabled: udp listeners {string.Join(" and ", candidates)} could each be RFC 5780's primary address: " +
                $"expected exactly one udp listener on a specific{family} address");
        }
        IPEndPoint primary = candidates[0];
        if (alternate is not null)
        {
            if (alternate.Equals(primary.Address))
            {
                throw section.Invalid("alternateAddress", alternate.ToString(), $"another address of this host than the udp listener's {primary.Address}");
            }
            if (alternatePort == primary.Port)
            {
                throw section.Invalid("alternatePort", alternatePort.Value.ToString(CultureInfo.InvariantCulture), $"another port than the udp listener's {primary.Port}");
            }
            foreach (IPEndPoint other in new[] { new IPEndPoint(primary.Address, alternatePort!.Value), new IPEndPoint(alternate, primary.Port), new IPEndPoint(alternate, alternatePort.Value) })
            {
                if (listeners.FirstOrDefault(l => l.Transport == ListenerTransport.Udp && l.Endpoint.Port == other.Port
                        && (l.Endpoint.Address.Equals(other.Address) || (IsUnspecified(l.Endpoint.Address) && l.Endpoint.AddressFamily == other.AddressFamily))) is { } clash)
                {
                    throw new ConfigurationException($"natDiscovery: the alternate endpoint udp {other} is taken by the udp listener {clash.Endpoint}: " +
                        "expected an alternateAddress and alternatePort whose endpoints no listener uses");
                }
            }
        }
        return new NatDiscoverySection { Enabled = true, Primary = primary, AlternateAddress = alternate, AlternatePort = alternatePort ?? 0 };
    }

    private static bool IsUnspecified(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);

    private static IPEndPoint? ReadEndpoint(JsonSection section, string key, bool required)
    {
        string? text = section.GetString(key);
        if (text is null)
        {
            return required ? throw new ConfigurationException($"{section.PathOf(key)}: missing: expected {EndpointExample}") : null;
        }
        return ParseEndpoint(section.PathOf(key), text);
    }

    private static IPEndPoint ParseEndpoint(string path, string text)
    {
        // IPEndPoint.TryParse accepts a bare address (port 0) and "::1:3478"-style ambiguity: insist on the form.
        bool bracketed = text.StartsWith('[');
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || (!bracketed && text.IndexOf(':') != colon) || (bracketed && text[colon - 1] != ']')
            || !IsStrictAddress(bracketed ? text[1..(colon - 1)] : text[..colon])
            || !IPEndPoint.TryParse(text, out IPEndPoint? endpoint) || endpoint.Port == 0)
        {
            throw new ConfigurationException($"{path}: \"{text}\" is not valid: expected {EndpointExample} with a port from 1 to 65535");
        }
        return endpoint;
    }

    /// <summary>
    /// alternateServers: where 300 Try Alternate sends new allocations (RFC 8489 §14.15 ALTERNATE-SERVER is an
    /// address and port). Never an unspecified address, nor one of this box's listeners: that would send a
    /// client back to the box that refused it.
    /// </summary>
    private static IReadOnlyList<IPEndPoint> ReadAlternateServers(JsonSection top, IReadOnlyList<ListenerConfiguration> listeners)
    {
        var alternates = new List<IPEndPoint>();
        IReadOnlyList<string> texts = top.GetStringArray("alternateServers");
        for (int i = 0; i < texts.Count; i++)
        {
            string path = $"alternateServers[{i}]";
            IPEndPoint alternate = ParseEndpoint(path, texts[i]);
            if (IsUnspecified(alternate.Address))
            {
                throw new ConfigurationException($"{path}: \"{texts[i]}\" is not valid: expected the address another relay is reached at, not an unspecified address");
            }
            if (listeners.Any(l => l.Endpoint.Equals(alternate)))
            {
                throw new ConfigurationException($"{path}: \"{texts[i]}\" is one of this relay's own listeners: a client sent there would be refused again");
            }
            alternates.Add(alternate);
        }
        return alternates;
    }

    /// <summary>
    /// IPAddress.TryParse also takes "10.1" and "167772161" (inet_aton forms) and scoped "fe80::1%eth0":
    /// a configuration means four dotted numbers or a plain IPv6 address.
    /// </summary>
    private static bool IsStrictAddress(string text)
    {
        if (text.Contains('/') || text.Contains('%'))
        {
            return false;
        }
        if (text.Contains(':'))
        {
            return IPAddress.TryParse(text, out _);
        }
        string[] parts = text.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, CultureInfo.InvariantCulture) <= 255);
    }

    private static IPAddress ParseAddress(JsonSection section, string key, string text)
    {
        if (!IsStrictAddress(text) || !IPAddress.TryParse(text, out IPAddress? address))
        {
            throw section.Invalid(key, text, "an IPv4 or IPv6 address such as \"203.0.113.7\"");
        }
        return address;
    }
}
