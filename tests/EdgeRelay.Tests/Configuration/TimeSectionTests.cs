using EdgeRelay.Configuration;

namespace EdgeRelay.Tests.Configuration;

/// <summary>
/// The time section: NTP servers for systemd-timesyncd (names and addresses only: they end up in a file that
/// root hands to timesyncd) and whether an unsynchronised clock is a reason; from a file or a cloud document.
/// </summary>
public sealed class TimeSectionTests
{
    private static RelayConfiguration Parse(string json) =>
        ConfigurationReader.Parse(json.Trim().Insert(1, """ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }],"""));

    private static string ErrorOf(string json) => Assert.Throws<ConfigurationException>(() => Parse(json)).Message;

    [Fact]
    public void By_default_there_are_no_servers_and_synchronisation_is_required()
    {
        RelayConfiguration c = Parse("{}");

        Assert.Empty(c.Time.NtpServers);
        Assert.True(c.Time.RequireSynchronisation);
    }

    [Fact]
    public void Names_and_addresses_of_both_families_are_taken_in_order()
    {
        RelayConfiguration c = Parse("""
            { "time": { "ntpServers": ["ntp.office.example", "192.168.1.1", "2001:db8::123", "time-1.example.com."], "requireSynchronisation": false } }
            """);

        Assert.Equal(["ntp.office.example", "192.168.1.1", "2001:db8::123", "time-1.example.com."], c.Time.NtpServers);
        Assert.False(c.Time.RequireSynchronisation);
    }

    [Theory]
    [InlineData("ntp.example.com:123")]
    [InlineData("ntp.example.com 10.0.0.1")]
    [InlineData("ntp.example.com\nFallbackNTP=evil.example")]
    [InlineData("")]
    [InlineData("-ntp.example.com")]
    [InlineData("ntp_1.example.com")]
    [InlineData("10.1")]
    [InlineData("300.1.1.1")]
    [InlineData("[2001:db8::1]")]
    [InlineData("fe80::1%eth0")]
    [InlineData("ntp..example.com")]
    public void Anything_but_a_name_or_an_address_is_refused_naming_the_key(string server)
    {
        string json = $$"""{ "time": { "ntpServers": [{{System.Text.Json.JsonSerializer.Serialize(server)}}] } }""";

        string error = ErrorOf(json);

        Assert.StartsWith("time.ntpServers[0]: ", error, StringComparison.Ordinal);
        Assert.Contains("expected a host name or an IP address", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "time": { "ntpServers": "ntp.example.com" } }""", "time.ntpServers: \"ntp.example.com\" is not valid: expected an array")]
    [InlineData("""{ "time": { "ntpServers": [123] } }""", "time.ntpServers[0]: 123 is not valid: expected a string")]
    [InlineData("""{ "time": { "requireSynchronisation": "yes" } }""", "time.requireSynchronisation: \"yes\" is not valid: expected true or false")]
    [InlineData("""{ "time": { "servers": [] } }""", "time.servers: unknown key")]
    public void A_bad_value_names_the_key_and_what_is_expected(string json, string expected)
    {
        Assert.Contains(expected, ErrorOf(json), StringComparison.Ordinal);
    }

    [Fact]
    public void More_than_sixteen_servers_are_refused()
    {
        string servers = string.Join(", ", Enumerable.Range(1, 17).Select(i => $"\"10.0.0.{i}\""));

        Assert.Contains("time.ntpServers: 17 servers is too many", ErrorOf($$"""{ "time": { "ntpServers": [{{servers}}] } }"""), StringComparison.Ordinal);
    }

    [Fact]
    public void A_cloud_document_may_set_the_servers()
    {
        RelayConfiguration c = ConfigurationReader.ParseCloudDocument("""
            { "version": 3, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "time": { "ntpServers": ["ntp.office.example"] } }
            """, out _);

        Assert.Equal(["ntp.office.example"], c.Time.NtpServers);
    }
}
