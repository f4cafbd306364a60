using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>The daily UTC window of a switch, and the words the status uses for an update's phases.</summary>
public sealed class UpdateWindowTests
{
    private static readonly UpdateWindow Night = new(new TimeOnly(2, 0), new TimeOnly(5, 0));
    private static readonly UpdateWindow AcrossMidnight = new(new TimeOnly(22, 30), new TimeOnly(1, 15));

    private static DateTimeOffset At(int hour, int minute, int second = 0, TimeSpan? offset = null) =>
        new(2026, 6, 1, hour, minute, second, offset ?? TimeSpan.Zero);

    [Theory]
    [InlineData(2, 0, 0, true)] // the start is inside
    [InlineData(3, 30, 0, true)]
    [InlineData(4, 59, 59, true)]
    [InlineData(5, 0, 0, false)] // the end is not
    [InlineData(1, 59, 59, false)]
    [InlineData(12, 0, 0, false)]
    public void A_window_holds_its_start_and_not_its_end(int hour, int minute, int second, bool inside) =>
        Assert.Equal(inside, Night.Contains(At(hour, minute, second)));

    [Theory]
    [InlineData(22, 30, true)]
    [InlineData(23, 59, true)]
    [InlineData(0, 0, true)]
    [InlineData(1, 14, true)]
    [InlineData(1, 15, false)]
    [InlineData(22, 29, false)]
    [InlineData(12, 0, false)]
    public void A_window_may_wrap_midnight(int hour, int minute, bool inside) =>
        Assert.Equal(inside, AcrossMidnight.Contains(At(hour, minute)));

    [Fact]
    public void The_window_is_in_UTC_whatever_the_offset_of_the_time_given()
    {
        // 04:00+02:00 is 02:00 UTC: inside; 02:00+02:00 is 00:00 UTC: outside.
        Assert.True(Night.Contains(At(4, 0, offset: TimeSpan.FromHours(2))));
        Assert.False(Night.Contains(At(2, 0, offset: TimeSpan.FromHours(2))));
    }

    [Theory]
    [InlineData(1, 0, 60)]
    [InlineData(1, 59, 1)]
    [InlineData(2, 0, 0)]
    [InlineData(4, 0, 0)]
    [InlineData(5, 0, 21 * 60)]
    [InlineData(23, 0, 3 * 60)]
    public void Until_is_how_long_to_the_next_opening_and_zero_inside(int hour, int minute, int minutes) =>
        Assert.Equal(TimeSpan.FromMinutes(minutes), Night.Until(At(hour, minute)));

    [Fact]
    public void Until_the_next_opening_of_a_window_across_midnight()
    {
        Assert.Equal(TimeSpan.FromMinutes(30), AcrossMidnight.Until(At(22, 0)));
        Assert.Equal(TimeSpan.FromHours(21) + TimeSpan.FromMinutes(15), AcrossMidnight.Until(At(1, 15)));
        Assert.Equal(TimeSpan.Zero, AcrossMidnight.Until(At(0, 30)));
    }

    [Fact]
    public void Waiting_until_the_window_opens_lands_inside_it_from_any_minute_of_the_day()
    {
        foreach (UpdateWindow window in new[] { Night, AcrossMidnight, new UpdateWindow(new TimeOnly(0, 0), new TimeOnly(0, 1)) })
        {
            for (int minute = 0; minute < 24 * 60; minute += 7)
            {
                DateTimeOffset now = At(0, 0).AddMinutes(minute).AddSeconds(13);
                TimeSpan wait = window.Until(now);
                Assert.InRange(wait, TimeSpan.Zero, TimeSpan.FromDays(1));
                Assert.True(window.Contains(now + wait), $"{window} at {now:HH:mm:ss}: waiting {wait} ends outside");
                Assert.Equal(wait == TimeSpan.Zero, window.Contains(now));
            }
        }
    }

    [Fact]
    public void A_window_reads_as_hours_and_minutes_in_UTC() => Assert.Equal("22:30-01:15 UTC", AcrossMidnight.ToString());

    [Fact]
    public void Every_phase_has_the_word_the_status_page_and_metrics_use()
    {
        Assert.Equal(
            ["idle", "downloading", "waiting-for-window", "draining", "switching", "trial", "refused", "retrying"],
            Enum.GetValues<UpdatePhase>().Select(UpdateStatus.PhaseName));
    }
}
