using EdgeRelay.Appliance.Leds;
using EdgeRelay.Appliance.Status;

namespace EdgeRelay.Appliance.Tests.Leds;

/// <summary>The sysfs driver over a temporary directory laid out like /sys/class/leds.</summary>
public sealed class SysfsLedDriverTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-leds-").FullName;
    private readonly ManualTimeProvider _time = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void AddLed(string name, string trigger, string maxBrightness = "255")
    {
        string directory = Directory.CreateDirectory(Path.Combine(_root, name)).FullName;
        File.WriteAllText(Path.Combine(directory, "brightness"), "0\n");
        File.WriteAllText(Path.Combine(directory, "max_brightness"), maxBrightness + "\n");
        File.WriteAllText(Path.Combine(directory, "trigger"), trigger + "\n");
    }

    private void AddPiLeds()
    {
        AddLed("ACT", "none [mmc0] timer heartbeat");
        AddLed("PWR", "none timer heartbeat [default-on] input");
        AddLed("mmc1::", "none [mmc1] timer");
    }

    private string Read(string name, string attribute) => File.ReadAllText(Path.Combine(_root, name, attribute)).Trim();

    [Fact]
    public void Without_names_it_picks_the_Pi_LEDs_ACT_as_green_and_PWR_as_red()
    {
        AddPiLeds();

        using SysfsLedDriver driver = SysfsLedDriver.Open(_root);

        Assert.Equal([LedRole.Green, LedRole.Red], driver.Roles);
        Assert.Equal(Path.Combine(_root, "ACT"), driver.Directories[LedRole.Green]);
        Assert.Equal(Path.Combine(_root, "PWR"), driver.Directories[LedRole.Red]);
    }

    [Fact]
    public void Older_kernels_names_led0_and_led1_are_found_too()
    {
        AddLed("led0", "none [mmc0]");
        AddLed("led1", "none [input]");

        using SysfsLedDriver driver = SysfsLedDriver.Open(_root);

        Assert.Equal(Path.Combine(_root, "led0"), driver.Directories[LedRole.Green]);
        Assert.Equal(Path.Combine(_root, "led1"), driver.Directories[LedRole.Red]);
    }

    [Fact]
    public void Opening_takes_the_LEDs_from_their_kernel_triggers_and_darkens_them()
    {
        AddPiLeds();

        using SysfsLedDriver driver = SysfsLedDriver.Open(_root);

        Assert.Equal("none", Read("ACT", "trigger"));
        Assert.Equal("0", Read("ACT", "brightness"));
        Assert.Equal("none", Read("PWR", "trigger"));
        Assert.Equal("[mmc1] timer", Read("mmc1::", "trigger")[5..]); // not ours: untouched
    }

    [Fact]
    public void Dispose_restores_the_original_triggers()
    {
        AddPiLeds();
        SysfsLedDriver driver = SysfsLedDriver.Open(_root);
        driver.Set(LedRole.Green, true);

        driver.Dispose();

        Assert.Equal("mmc0", Read("ACT", "trigger"));
        Assert.Equal("default-on", Read("PWR", "trigger"));
    }

    [Fact]
    public void Brightness_follows_the_fault_pattern_over_time()
    {
        AddPiLeds();
        using SysfsLedDriver driver = SysfsLedDriver.Open(_root);
        using var animator = new LedAnimator(driver, _time);

        animator.Show(new LedSignal(LedMode.Fault, 1));
        string[] red = [.. new[] { 0, 300, 1800, 2100, 2400 }.Select(at =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(at) - _time.Elapsed);
            return Read("PWR", "brightness");
        })];

        Assert.Equal(["255", "0", "0", "255", "0"], red);
        Assert.Equal("0", Read("ACT", "brightness"));
    }

    [Fact]
    public void Healthy_lights_green_at_max_brightness()
    {
        AddLed("ACT", "none [mmc0] timer", maxBrightness: "1");
        AddLed("PWR", "none [default-on] timer");
        using SysfsLedDriver driver = SysfsLedDriver.Open(_root);
        using var animator = new LedAnimator(driver, _time);

        animator.Show(new LedSignal(LedMode.Healthy));

        Assert.Equal("1", Read("ACT", "brightness"));
        Assert.Equal("0", Read("PWR", "brightness"));
    }

    [Fact]
    public void An_even_blink_is_handed_to_the_kernel_timer_trigger_and_taken_back_on_change()
    {
        AddLed("green:status", "[none] timer");
        AddLed("amber:status", "[none] timer");
        AddLed("red:status", "[none] timer");
        using SysfsLedDriver driver = SysfsLedDriver.Open(_root);
        using var animator = new LedAnimator(driver, _time);
        Assert.Equal([LedRole.Green, LedRole.Amber, LedRole.Red], driver.Roles);

        animator.Show(new LedSignal(LedMode.Starting));

        Assert.Equal("timer", Read("amber:status", "trigger"));
        Assert.Equal("500", Read("amber:status", "delay_on"));
        Assert.Equal("500", Read("amber:status", "delay_off"));
        Assert.Equal("none", Read("green:status", "trigger"));

        _time.AdvanceMilliseconds(2_000);
        animator.Show(new LedSignal(LedMode.Healthy));

        Assert.Equal("none", Read("amber:status", "trigger"));
        Assert.Equal("0", Read("amber:status", "brightness"));
        Assert.Equal("255", Read("green:status", "brightness"));
    }

    [Fact]
    public void Without_a_timer_trigger_the_animator_blinks_it_itself()
    {
        AddLed("green:status", "[none]");
        AddLed("amber:status", "[none]");
        using SysfsLedDriver driver = SysfsLedDriver.Open(_root);
        using var animator = new LedAnimator(driver, _time);

        animator.Show(new LedSignal(LedMode.Starting));
        Assert.Equal("255", Read("amber:status", "brightness"));
        _time.AdvanceMilliseconds(500);

        Assert.Equal("0", Read("amber:status", "brightness"));
        Assert.Equal("none", Read("amber:status", "trigger"));
    }

    [Fact]
    public void A_single_LED_board_gets_the_single_LED_encoding()
    {
        AddLed("ACT", "none [mmc0] timer heartbeat");
        using SysfsLedDriver driver = SysfsLedDriver.Open(_root);
        using var animator = new LedAnimator(driver, _time);
        Assert.Equal([LedRole.Green], driver.Roles);

        animator.Show(new LedSignal(LedMode.Starting));
        Assert.Equal(("timer", "100", "100"), (Read("ACT", "trigger"), Read("ACT", "delay_on"), Read("ACT", "delay_off")));

        animator.Show(new LedSignal(LedMode.Fault, 1));
        string[] act = [.. new[] { 0, 1999, 2000, 4000, 4080, 6079, 6080 }.Select(at =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(at) - _time.Elapsed);
            return Read("ACT", "brightness");
        })];

        Assert.Equal("none", Read("ACT", "trigger"));
        Assert.Equal(["255", "255", "0", "255", "0", "0", "255"], act);
    }

    [Fact]
    public void Named_LEDs_are_used_as_named()
    {
        AddPiLeds();

        using SysfsLedDriver driver = SysfsLedDriver.Open(_root, new Dictionary<LedRole, string> { [LedRole.Red] = "ACT" });

        Assert.Equal([LedRole.Red], driver.Roles);
        Assert.Equal(Path.Combine(_root, "ACT"), driver.Directories[LedRole.Red]);
    }

    [Fact]
    public void A_missing_directory_is_an_error_naming_the_path()
    {
        string missing = Path.Combine(_root, "no-such-leds");

        var error = Assert.Throws<DirectoryNotFoundException>(() => SysfsLedDriver.Open(missing));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_directory_without_known_LEDs_is_an_error_naming_the_path()
    {
        AddLed("mmc0::", "[mmc0]");

        var error = Assert.Throws<InvalidOperationException>(() => SysfsLedDriver.Open(_root));

        Assert.Contains(_root, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_named_LED_that_does_not_exist_is_an_error_naming_it()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            SysfsLedDriver.Open(_root, new Dictionary<LedRole, string> { [LedRole.Green] = "status" }));

        Assert.Contains(Path.Combine(_root, "status"), error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("none [mmc0] timer heartbeat", "mmc0")]
    [InlineData("[none] timer", "none")]
    [InlineData("none timer heartbeat [default-on] input\n", "default-on")]
    [InlineData("", "none")]
    public void The_current_trigger_is_the_one_in_brackets(string triggers, string current) =>
        Assert.Equal(current, SysfsLedDriver.CurrentTrigger(triggers));
}
