using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Leds;

/// <summary>Builds the driver the options name.</summary>
public static class LedDrivers
{
    public static ILedDriver Create(LedOptions options, ILoggerFactory loggerFactory) => options.Driver switch
    {
        LedDriverKind.None => new NullLedDriver(),
        LedDriverKind.Console => new ConsoleLedDriver(loggerFactory.CreateLogger<ConsoleLedDriver>()),
        LedDriverKind.Gpio => GpioLedDriver.Open(options),
        LedDriverKind.Sysfs => SysfsLedDriver.Open(options.SysfsRoot, options.SysfsNames()),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Driver, "Unknown LED driver."),
    };
}
