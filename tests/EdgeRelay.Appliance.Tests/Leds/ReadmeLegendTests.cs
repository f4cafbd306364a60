using EdgeRelay.Appliance.Leds;

namespace EdgeRelay.Appliance.Tests.Leds;

/// <summary>The README's LED legend is the one the code draws (LedLegend describes LedPatterns).</summary>
public sealed class ReadmeLegendTests
{
    [Fact]
    public void The_readme_carries_the_legend_of_the_code()
    {
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "../../../../../README.md"));
        Assert.Contains(LedLegend.ToMarkdown(), readme.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }
}
