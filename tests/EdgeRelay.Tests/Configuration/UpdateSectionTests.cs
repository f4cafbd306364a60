using System.Security.Cryptography;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Update;
using EdgeRelay.Configuration;

namespace EdgeRelay.Tests.Configuration;

/// <summary>The <c>update</c> section (README, "Updates"): its defaults, and a clear error naming the key for each bad value.</summary>
public sealed class UpdateSectionTests
{
    private static readonly string Key = NewPublicKey();

    private static string NewPublicKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return TrustedKey.FromSigningKey(key).ToString();
    }

    private static RelayConfiguration Parse(string update) => ConfigurationReader.Parse($$"""
        { "cloud": { "url": "https://config.example.com/boxes/a.jws", "trustedKeys": ["{{Key}}"] }, "update": {{update}} }
        """);

    private static string ErrorOf(string update) => Assert.Throws<ConfigurationException>(() => Parse(update)).Message;

    private const string Named = """ "version": "1.4.2", "manifestUrl": "https://releases.example.com/edgerelay-1.4.2-linux-arm64.jws" """;

    [Fact]
    public void The_defaults_give_a_release_three_minutes_a_minute_of_soak_within_them_and_ten_minutes_of_drain()
    {
        UpdateTarget update = Parse("{" + Named + "}").Update!;

        Assert.Equal("1.4.2", update.Version);
        Assert.False(update.AllowDowngrade);
        Assert.Equal(TimeSpan.FromSeconds(180), update.HealthTimeout);
        Assert.Null(update.SoakTime);
        Assert.Equal(TimeSpan.FromSeconds(45), update.Soak); // a quarter of the health timeout, at most a minute
        Assert.Equal(TimeSpan.FromSeconds(600), update.DrainTimeout);
        Assert.Null(update.Window);
    }

    [Fact]
    public void Every_key_is_read()
    {
        UpdateTarget update = Parse("{" + Named + """
            , "allowDowngrade": true, "healthTimeoutSeconds": 600, "soakSeconds": 120, "window": "23:00-04:00", "drainSeconds": 0 }
            """).Update!;

        Assert.True(update.AllowDowngrade);
        Assert.Equal(TimeSpan.FromSeconds(600), update.HealthTimeout);
        Assert.Equal(TimeSpan.FromSeconds(120), update.Soak);
        Assert.Equal(new UpdateWindow(new TimeOnly(23, 0), new TimeOnly(4, 0)), update.Window);
        Assert.Equal(TimeSpan.Zero, update.DrainTimeout);
    }

    [Theory]
    [InlineData(""", "soakSeconds": 0""", "update.soakSeconds: 0 is not valid: expected a whole number from 1 to 3600")]
    [InlineData(""", "soakSeconds": 16""", "update.soakSeconds: 16 is not valid: expected at most half of update.healthTimeoutSeconds (30)")]
    [InlineData(""", "healthTimeoutSeconds": 5""", "update.healthTimeoutSeconds: 5 is not valid: expected a whole number from 30 to 3600")]
    [InlineData(""", "window": "02:00-02:00" """, "update.window: \"02:00-02:00\" is not valid: expected two different UTC times")]
    [InlineData(""", "drainSeconds": -1""", "update.drainSeconds: -1 is not valid: expected a whole number from 0 to 86400")]
    [InlineData(""", "rollout": "fast" """, "update.rollout")]
    public void A_bad_value_names_its_key_and_what_was_expected(string more, string expected)
    {
        string json = "{" + Named + (more.Contains("soakSeconds\": 16", StringComparison.Ordinal) ? """, "healthTimeoutSeconds": 30""" : "") + more + "}";

        Assert.StartsWith(expected, ErrorOf(json), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "version": "1.4.2", "manifestUrl": "http://releases.example.com/a.jws" }""", "update.manifestUrl: \"http://releases.example.com/a.jws\" is not valid: expected an https:// URL")]
    [InlineData("""{ "version": "latest", "manifestUrl": "https://releases.example.com/a.jws" }""", "update.version: \"latest\" is not valid: expected numbers joined by dots")]
    [InlineData("""{ "manifestUrl": "https://releases.example.com/a.jws" }""", "update.version: missing")]
    public void The_release_must_be_named_by_version_and_https_manifest(string update, string expected) =>
        Assert.StartsWith(expected, ErrorOf(update), StringComparison.Ordinal);
}
