using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>Release versions: what reads as one, and which of two is newer.</summary>
public sealed class ReleaseVersionTests
{
    [Theory]
    [InlineData("1.4", 1, 4, 0, 0)]
    [InlineData("1.4.2", 1, 4, 2, 0)]
    [InlineData("1.4.2.7", 1, 4, 2, 7)]
    [InlineData("0.0", 0, 0, 0, 0)]
    [InlineData("0.1.0", 0, 1, 0, 0)]
    [InlineData("10.20.30.40", 10, 20, 30, 40)]
    [InlineData("999999999.999999999.999999999.999999999", 999999999, 999999999, 999999999, 999999999)]
    [InlineData("01.02", 1, 2, 0, 0)]
    public void Two_to_four_dot_separated_ASCII_numbers_are_a_version(string text, int major, int minor, int patch, int revision)
    {
        Assert.True(ReleaseVersion.TryParse(text, out ReleaseVersion version));
        Assert.Equal(new ReleaseVersion(major, minor, patch, revision), version);
        Assert.Equal(version, ReleaseVersion.Parse(text));
    }

    public static TheoryData<string?> NotVersions() =>
    [
        null, "", " ", ".", "..", "1", "1.", ".1", "1..2", "1.2.", "1.2.3.4.5", "1.2.3.4.", "1.2.3.4.5.6.7.8",
        // Signs, spaces and other things int.Parse would forgive.
        "+1.2", "-1.2", "1.-2", "1.+2", " 1.2", "1.2 ", "1. 2", "1 .2", "1.2\n", "1.2\0", "\t1.2", "1,2", "1_000.2", "0x1.2", "1e3.2",
        // Digits that are not ASCII: Arabic-Indic, Devanagari, fullwidth, superscript, a Roman numeral.
        "\u0663.\u0664", "1.\u0664", "\u0967.2", "\uFF11.\uFF12", "\u00B9.2", "\u2160.2",
        // Numbers too large for an int, or more digits than any release will have.
        "2147483648.0", "1.99999999999", "1234567890.1", "1.0000000000",
        // Suffixes that a fleet must never have to compare.
        "1.4.0-rc1", "1.4.0+build", "v1.4", "1.4a", "1.4.x",
        new string('1', 65), "1." + new string('0', 63),
    ];

    [Theory]
    [MemberData(nameof(NotVersions))]
    public void Anything_else_is_not_a_version_and_never_throws_from_TryParse(string? text)
    {
        Assert.False(ReleaseVersion.TryParse(text, out ReleaseVersion version));
        Assert.Equal(default, version);
    }

    [Fact]
    public void Parse_names_what_is_expected_when_it_refuses()
    {
        FormatException e = Assert.Throws<FormatException>(() => ReleaseVersion.Parse("1.4.0-rc1"));
        Assert.Contains("\"1.4.0-rc1\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("1.4.2", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.10", "1.9")]
    [InlineData("1.9.1", "1.9")]
    [InlineData("2.0", "1.999999999.999999999.999999999")]
    [InlineData("1.4.0.1", "1.4")]
    [InlineData("0.2", "0.1.99")]
    [InlineData("10.0", "9.0")]
    [InlineData("1.4.10", "1.4.9")]
    public void Versions_compare_number_by_number_not_as_text(string newer, string older)
    {
        ReleaseVersion a = ReleaseVersion.Parse(newer), b = ReleaseVersion.Parse(older);
        Assert.True(a > b);
        Assert.True(a >= b);
        Assert.False(a < b);
        Assert.False(a <= b);
        Assert.True(b < a);
        Assert.True(a.CompareTo(b) > 0);
        Assert.True(b.CompareTo(a) < 0);
        Assert.NotEqual(a, b);
    }

    [Theory]
    [InlineData("1.4", "1.4.0")]
    [InlineData("1.4", "1.4.0.0")]
    [InlineData("1.4.0", "1.4.0.0")]
    [InlineData("01.4", "1.04")]
    public void A_missing_number_counts_as_zero(string a, string b)
    {
        ReleaseVersion x = ReleaseVersion.Parse(a), y = ReleaseVersion.Parse(b);
        Assert.Equal(x, y);
        Assert.Equal(0, x.CompareTo(y));
        Assert.True(x <= y && x >= y);
        Assert.False(x < y || x > y);
        Assert.Equal(x.GetHashCode(), y.GetHashCode());
    }

    [Theory]
    [InlineData("1.4", "1.4.0")]
    [InlineData("1.4.2", "1.4.2")]
    [InlineData("1.4.2.0", "1.4.2")]
    [InlineData("1.4.2.7", "1.4.2.7")]
    [InlineData("01.004.0002", "1.4.2")]
    public void The_text_of_a_version_is_its_canonical_form_and_reads_back_as_the_same_version(string text, string canonical)
    {
        ReleaseVersion version = ReleaseVersion.Parse(text);
        Assert.Equal(canonical, version.ToString());
        Assert.Equal(version, ReleaseVersion.Parse(version.ToString()));
    }

    [Fact]
    public void Sorting_puts_versions_in_release_order()
    {
        string[] shuffled = ["1.10", "1.2", "1.9.9", "0.9", "1.10.0.1", "1.1", "2.0", "1.9"];
        string[] sorted = [.. shuffled.Select(ReleaseVersion.Parse).Order().Select(v => v.ToString())];
        Assert.Equal(["0.9.0", "1.1.0", "1.2.0", "1.9.0", "1.9.9", "1.10.0", "1.10.0.1", "2.0.0"], sorted);
    }
}
