using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Appliance.Diagnostics;

namespace EdgeRelay.Appliance.Tests.Diagnostics;

/// <summary>The lines the probe prints, its RTT figures and the REST credentials it makes.</summary>
public sealed class ProbeFormatTests
{
    [Fact]
    public void A_step_line_reads_outcome_name_duration_and_detail_in_columns()
    {
        Assert.Equal("PASS  allocate          12 ms  relayed 127.0.0.1:49876, lifetime 600 s",
            ProbeText.Line(new ProbeStep("allocate", ProbeOutcome.Pass, TimeSpan.FromMilliseconds(12.4), "relayed 127.0.0.1:49876, lifetime 600 s")));
        Assert.Equal("SKIP  echo               -     skipped: allocate failed",
            ProbeText.Line(new ProbeStep("echo", ProbeOutcome.Skipped, TimeSpan.Zero, "skipped: allocate failed")));
    }

    [Fact]
    public void Percentiles_are_nearest_rank()
    {
        double[] roundTrips = [.. Enumerable.Range(1, 100).Select(i => (double)i).Reverse()];
        EchoStatistics echo = EchoStatistics.From(120, roundTrips);
        Assert.Equal(new EchoStatistics(120, 100, 50, 99, 100), echo);
        Assert.Equal(20, echo.Lost);
        Assert.Equal(new EchoStatistics(3, 1, 7, 7, 7), EchoStatistics.From(3, [7.0]));
    }

    [Fact]
    public void A_rest_credential_is_expiry_colon_name_and_base64_hmac_sha1_of_it()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        (string username, string password) = TurnRestCredential.Create("rest-secret", "tech", now, TimeSpan.FromHours(1));
        Assert.Equal("1700003600:tech", username);
        Assert.Equal(Convert.ToBase64String(HMACSHA1.HashData("rest-secret"u8, Encoding.UTF8.GetBytes(username))), password);
        Assert.Equal("1700003600", TurnRestCredential.Create("rest-secret", null, now, TimeSpan.FromHours(1)).Username);
    }

    [Fact]
    public void Text_from_the_server_loses_control_characters_and_length()
    {
        Assert.Equal("a?[31mred?", ProbeText.FromServer("a\u001b[31mred\u0007"u8));
        Assert.Equal(new string('x', 80) + "…", ProbeText.FromServer(Encoding.UTF8.GetBytes(new string('x', 300))));
        Assert.Equal("?", ProbeText.FromServer([0xFF]));
    }
}
