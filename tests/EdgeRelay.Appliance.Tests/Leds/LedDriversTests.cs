using EdgeRelay.Appliance.Leds;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Appliance.Tests.Leds;

public sealed class LedDriversTests
{
    [Fact]
    public void None_gives_a_driver_without_LEDs()
    {
        using ILedDriver driver = LedDrivers.Create(new LedOptions(), NullLoggerFactory.Instance);

        Assert.IsType<NullLedDriver>(driver);
        Assert.Empty(driver.Roles);
    }

    [Fact]
    public void Console_gives_three_logged_LEDs()
    {
        using ILedDriver driver = LedDrivers.Create(new LedOptions { Driver = LedDriverKind.Console }, NullLoggerFactory.Instance);

        Assert.IsType<ConsoleLedDriver>(driver);
        Assert.Equal([LedRole.Green, LedRole.Amber, LedRole.Red], driver.Roles);
        driver.Set(LedRole.Amber, true);
    }

    [Fact]
    public void Gpio_without_pins_is_an_error_before_any_hardware_is_opened()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            LedDrivers.Create(new LedOptions { Driver = LedDriverKind.Gpio }, NullLoggerFactory.Instance));

        Assert.Contains("greenPin", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Gpio_on_a_chip_that_cannot_be_opened_names_the_chip()
    {
        // Without libgpiod, or without /dev/gpiochip99 (no board has one), opening fails the same way.
        var error = Assert.Throws<InvalidOperationException>(() =>
            LedDrivers.Create(new LedOptions { Driver = LedDriverKind.Gpio, GpioChip = 99, GreenPin = 17 }, NullLoggerFactory.Instance));

        Assert.Contains("/dev/gpiochip99", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sysfs_over_a_missing_root_names_the_root()
    {
        var error = Assert.Throws<DirectoryNotFoundException>(() =>
            LedDrivers.Create(new LedOptions { Driver = LedDriverKind.Sysfs, SysfsRoot = "/nonexistent/leds" }, NullLoggerFactory.Instance));

        Assert.Contains("/nonexistent/leds", error.Message, StringComparison.Ordinal);
    }
}
