using EdgeRelay.Appliance.Leds;
using EdgeRelay.Appliance.Status;

namespace EdgeRelay.Appliance.Tests.Leds;

public sealed class LedLegendTests
{
    [Fact]
    public void The_legend_has_one_row_per_LED_mode()
    {
        Assert.Equal(Enum.GetValues<LedMode>(), LedLegend.Rows().Select(row => row.Mode));
    }

    [Fact]
    public void The_markdown_legend_is_a_table_with_every_state()
    {
        string markdown = LedLegend.ToMarkdown();

        Assert.StartsWith("| State | Green / amber / red LEDs | Single LED |\n|---|---|---|\n", markdown, StringComparison.Ordinal);
        foreach (LedLegendRow row in LedLegend.Rows())
            Assert.Contains($"| {row.State} | {row.MultiLed} | {row.SingleLed} |", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void No_single_LED_pattern_starts_with_a_long_flash_followed_by_darkness_shorter_than_the_preamble()
    {
        // Firmware boot codes are groups of long and short flashes; ours are steady, even, a
        // heartbeat, or led by a 2 s steady-on preamble. Check no pattern has an "on" of 200 ms-1.9 s.
        foreach (LedMode mode in Enum.GetValues<LedMode>())
        {
            LedPattern pattern = LedPatterns.SingleLed(new LedSignal(mode, 3), LedRole.Green);
            foreach (LedStep step in pattern.Steps.Where(s => s.Lights != LedLights.None && !s.IsHold))
                Assert.True(step.Duration <= TimeSpan.FromMilliseconds(100) || step.Duration >= TimeSpan.FromSeconds(2), $"{mode}: {step}");
        }
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(4, 4)]
    [InlineData(42, 9)]
    public void Fault_codes_are_shown_as_1_to_9_blinks(int code, int blinks)
    {
        LedPattern pattern = LedPatterns.MultiLed(new LedSignal(LedMode.Fault, code), [LedRole.Green, LedRole.Amber, LedRole.Red]);

        Assert.Equal(blinks, pattern.Steps.Count(step => step.Lights == LedLights.Red));
    }

    [Fact]
    public void A_board_without_amber_shows_degraded_as_green_and_red_together()
    {
        LedPattern pattern = LedPatterns.MultiLed(new LedSignal(LedMode.Degraded), [LedRole.Green, LedRole.Red]);

        Assert.Equal([new LedStep(LedLights.Green | LedLights.Red, Timeout.InfiniteTimeSpan)], pattern.Steps);
    }
}
