using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Configuration;

namespace EdgeRelay.Tests.Configuration;

/// <summary>The bootstrap file's <c>cloud</c> section, cloud documents, and how the two are merged.</summary>
public sealed class CloudSectionTests
{
    private const string Listener = """ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }] """;
    private static readonly string Key = NewPublicKey();

    private static string NewPublicKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return TrustedKey.FromSigningKey(key).ToString();
    }

    private static string Cloud(string more = "") =>
        $$""" "cloud": { "url": "https://config.example.com/boxes/a.jws", "trustedKeys": ["{{Key}}"] {{more}} } """;

    /// <summary>A bootstrap file: <paramref name="top"/> members, then the cloud section with <paramref name="more"/> in it.</summary>
    private static string WithCloud(string more, string top = "") => "{ " + top + Cloud(more) + " }";

    private static string BootstrapError(string json) => Assert.Throws<ConfigurationException>(() => ConfigurationReader.Parse(json)).Message;

    private static string DocumentError(string json) =>
        Assert.Throws<ConfigurationException>(() => ConfigurationReader.ParseCloudDocument(json, out _)).Message;

    [Fact]
    public void A_bootstrap_with_only_a_cloud_section_needs_no_listener()
    {
        RelayConfiguration c = ConfigurationReader.Parse($$"""{ {{Cloud()}} }""");
        Assert.Empty(c.Listeners);
        Assert.Equal(new Uri("https://config.example.com/boxes/a.jws"), c.Cloud!.Url);
        Assert.Equal(Key, Assert.Single(c.Cloud.TrustedKeys).ToString());
        Assert.Equal(TimeSpan.FromMinutes(5), c.Cloud.PollInterval);
        Assert.Equal(1024 * 1024, c.Cloud.MaxDocumentBytes);
        Assert.Null(c.Cloud.DeviceToken);
        Assert.Equal(0, c.Version);
    }

    [Fact]
    public void Every_cloud_key_is_read()
    {
        RelayConfiguration c = ConfigurationReader.Parse(WithCloud("""
            , "deviceToken": "0123456789abcdef0123", "pollIntervalSeconds": 30, "timeoutSeconds": 7, "maxBackoffSeconds": 120, "maxDocumentBytes": 65536
            """, Listener + ","));
        Assert.Equal("0123456789abcdef0123", c.Cloud!.DeviceToken);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Cloud.PollInterval);
        Assert.Equal(TimeSpan.FromSeconds(7), c.Cloud.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(120), c.Cloud.MaxBackoff);
        Assert.Equal(65536, c.Cloud.MaxDocumentBytes);
    }

    [Theory]
    [InlineData("http://config.example.com/a.jws", "cloud.url: \"http://config.example.com/a.jws\" is not valid: expected an https:// URL")]
    [InlineData("https://user:secretpw@config.example.com/a.jws", "cloud.url: not valid: expected no user name or password in the URL")]
    [InlineData("config.example.com/a.jws", "cloud.url")]
    public void The_url_must_be_https(string url, string expected)
    {
        string error = BootstrapError($$"""{ "cloud": { "url": "{{url}}", "trustedKeys": ["{{Key}}"] } }""");
        Assert.Contains(expected, error);
        Assert.DoesNotContain("secretpw", error);
    }

    [Fact]
    public void Trusted_keys_are_required_and_checked()
    {
        Assert.StartsWith("cloud.trustedKeys: missing", BootstrapError("""{ "cloud": { "url": "https://c.example/a" } }"""));
        Assert.StartsWith("cloud.trustedKeys: empty", BootstrapError("""{ "cloud": { "url": "https://c.example/a", "trustedKeys": [] } }"""));
        Assert.StartsWith("cloud.trustedKeys[1]: not valid: expected the base64 of an ECDSA P-256 public key",
            BootstrapError($$"""{ "cloud": { "url": "https://c.example/a", "trustedKeys": ["{{Key}}", "bm90IGEga2V5"] } }"""));
        using var rsa = RSA.Create(2048);
        Assert.Contains("P-256", BootstrapError($$"""{ "cloud": { "url": "https://c.example/a", "trustedKeys": ["{{Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo())}}"] } }"""));
    }

    [Fact]
    public void A_short_device_token_is_refused_without_being_echoed()
    {
        string error = BootstrapError(WithCloud(""", "deviceToken": "short-token" """));
        Assert.StartsWith("cloud.deviceToken: not valid: expected at least 16 characters", error);
        Assert.DoesNotContain("short-token", error);
    }

    [Fact]
    public void The_ca_certificate_may_be_given_inline_so_that_a_bootstrap_file_carries_it()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=EdgeRelay test CA", key, HashAlgorithmName.SHA256);
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        string pem = System.Text.Json.JsonSerializer.Serialize(ca.ExportCertificatePem() + "\n");

        RelayConfiguration c = ConfigurationReader.Parse(WithCloud($$""", "caCertificate": {{pem}} """));

        Assert.Equal(ca.Thumbprint, c.Cloud!.CaCertificate!.Thumbprint);
        string broken = System.Text.Json.JsonSerializer.Serialize("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        Assert.StartsWith("cloud.caCertificate: the inline PEM is not valid: expected one certificate between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----",
            BootstrapError(WithCloud($$""", "caCertificate": {{broken}} """)));
    }

    [Fact]
    public void Unknown_cloud_keys_and_bad_numbers_are_named()
    {
        Assert.Contains("cloud.pollInterval", BootstrapError(WithCloud(""", "pollInterval": 5 """)));
        Assert.StartsWith("cloud.pollIntervalSeconds: 0 is not valid: expected a whole number from 1 to 86400",
            BootstrapError(WithCloud(""", "pollIntervalSeconds": 0 """)));
        Assert.StartsWith("cloud.caCertificate: \"/nonexistent/ca.pem\" is not valid: expected a readable PEM or DER certificate file",
            BootstrapError(WithCloud(""", "caCertificate": "/nonexistent/ca.pem" """)));
    }

    [Fact]
    public void A_cloud_document_needs_a_version_and_listeners()
    {
        Assert.StartsWith("version: missing", DocumentError($$"""{ {{Listener}} }"""));
        Assert.StartsWith("version: 0 is not valid: expected a whole number from 1", DocumentError($$"""{ "version": 0, {{Listener}} }"""));
        Assert.StartsWith("version: \"7\" is not valid", DocumentError($$"""{ "version": "7", {{Listener}} }"""));
        Assert.StartsWith("listeners: missing", DocumentError("""{ "version": 3 }"""));
        Assert.Equal(42, ConfigurationReader.ParseCloudDocument($$"""{ "version": 42, {{Listener}} }""", out _).Version);
    }

    [Theory]
    [InlineData(""" "stateDirectory": "/tmp/x" """, "stateDirectory: only the bootstrap file may set it")]
    [InlineData(""" "cloud": { "url": "https://evil.example/a" } """, "cloud.url: only the bootstrap file may set it")]
    [InlineData(""" "cloud": { "deviceToken": "0123456789abcdef0123" } """, "cloud.deviceToken: only the bootstrap file may set it")]
    [InlineData(""" "cloud": { "caCertificate": "/etc/ssl/evil.pem" } """, "cloud.caCertificate: only the bootstrap file may set it")]
    [InlineData(""" "cloud": { "whatever": 1 } """, "cloud.whatever")]
    public void A_cloud_document_cannot_move_the_box_elsewhere(string part, string expected)
    {
        Assert.StartsWith(expected, DocumentError($$"""{ "version": 2, {{Listener}}, {{part}} }"""));
    }

    [Fact]
    public void A_cloud_document_may_rotate_keys_and_set_the_poll_interval_and_the_rest_comes_from_the_bootstrap()
    {
        using var next = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string nextKey = TrustedKey.FromSigningKey(next).ToString();
        RelayConfiguration bootstrap = ConfigurationReader.Parse(WithCloud(""", "deviceToken": "0123456789abcdef0123", "pollIntervalSeconds": 60 """,
            """ "stateDirectory": "/var/lib/box", """));
        byte[] payload = Encoding.UTF8.GetBytes($$"""
            { "version": 9, {{Listener}}, "auth": { "users": { "alice": "correct horse" } },
              "cloud": { "trustedKeys": ["{{nextKey}}"], "pollIntervalSeconds": 10 } }
            """);
        RelayConfiguration merged = CloudConfiguration.FromPayload(bootstrap, payload, out CloudOverrides overrides);
        Assert.Equal(9, merged.Version);
        Assert.Equal("/var/lib/box", merged.StateDirectory);
        Assert.Equal(bootstrap.Cloud!.Url, merged.Cloud!.Url);
        Assert.Equal("0123456789abcdef0123", merged.Cloud.DeviceToken);
        Assert.Equal(nextKey, Assert.Single(merged.Cloud.TrustedKeys).ToString());
        Assert.Equal(TimeSpan.FromSeconds(10), merged.Cloud.PollInterval);
        Assert.Equal(nextKey, Assert.Single(overrides.TrustedKeys!).ToString());
        Assert.Equal("correct horse", merged.Auth.Users["alice"]);

        // Without a cloud section, the bootstrap's keys and interval stay.
        RelayConfiguration plain = CloudConfiguration.FromPayload(bootstrap, Encoding.UTF8.GetBytes($$"""{ "version": 10, {{Listener}} }"""), out overrides);
        Assert.Null(overrides.TrustedKeys);
        Assert.Equal(Key, Assert.Single(plain.Cloud!.TrustedKeys).ToString());
        Assert.Equal(TimeSpan.FromSeconds(60), plain.Cloud.PollInterval);
    }

    [Fact]
    public void A_payload_that_is_not_utf8_or_not_an_object_is_refused_clearly()
    {
        RelayConfiguration bootstrap = ConfigurationReader.Parse($$"""{ {{Cloud()}} }""");
        Assert.Equal("the document is not UTF-8 text",
            Assert.Throws<ConfigurationException>(() => CloudConfiguration.FromPayload(bootstrap, [0x7b, 0xff, 0xfe, 0x7d], out _)).Message);
        Assert.StartsWith("configuration: expected an object",
            Assert.Throws<ConfigurationException>(() => CloudConfiguration.FromPayload(bootstrap, "[1]"u8.ToArray(), out _)).Message);
    }
}
