using System.Device.Gpio;
using System.Device.Gpio.Drivers;

namespace EdgeRelay.Appliance.Leds;

/// <summary>
/// LEDs on GPIO pins. In production the controller runs over libgpiod v1 (<see cref="LibGpiodDriver"/>,
/// Debian 12's libgpiod2 package, /dev/gpiochipN), created only by <see cref="Open"/> so nothing
/// touches hardware until the configuration asks for it.
/// </summary>
public sealed class GpioLedDriver : ILedDriver
{
    private readonly GpioController _controller;
    private readonly Dictionary<LedRole, int> _pins;
    private readonly bool _activeLow;
    private readonly LedRole[] _roles;
    private bool _disposed;

    /// <summary>Takes ownership of <paramref name="controller"/> and opens every pin as an output, off.</summary>
    public GpioLedDriver(GpioController controller, IReadOnlyDictionary<LedRole, int> pins, bool activeLow)
    {
        if (pins.Count == 0)
            throw new ArgumentException("At least one LED pin must be configured.", nameof(pins));
        _controller = controller;
        _pins = new Dictionary<LedRole, int>(pins);
        _activeLow = activeLow;
        _roles = [.. _pins.Keys.Order()];
        try
        {
            foreach (LedRole role in _roles)
                _controller.OpenPin(_pins[role], PinMode.Output, Level(false));
        }
        catch
        {
            _controller.Dispose();
            throw;
        }
    }

    /// <summary>Opens the gpiochip the options name, through libgpiod.</summary>
    public static GpioLedDriver Open(LedOptions options)
    {
        IReadOnlyDictionary<LedRole, int> pins = options.GpioPins();
        if (pins.Count == 0)
            throw new ArgumentException("leds: the gpio driver needs at least one of greenPin, amberPin, redPin.", nameof(options));
        GpioController controller;
        try
        {
            controller = new GpioController(new LibGpiodDriver(options.GpioChip));
        }
        catch (Exception e) when (e is IOException or PlatformNotSupportedException or DllNotFoundException)
        {
            // LibGpiodDriver loads libgpiod.so.2 (Debian 12's libgpiod2, API v1) and opens the chip here.
            throw new InvalidOperationException(
                $"leds: cannot open /dev/gpiochip{options.GpioChip} through libgpiod (Debian: apt install libgpiod2): {e.Message}", e);
        }
        return new GpioLedDriver(controller, pins, options.ActiveLow);
    }

    public IReadOnlyList<LedRole> Roles => _roles;

    public void Set(LedRole role, bool on)
    {
        if (_pins.TryGetValue(role, out int pin))
            _controller.Write(pin, Level(on));
    }

    // Active-low: the LED sinks into the pin, so High is dark.
    private PinValue Level(bool on) => on != _activeLow ? PinValue.High : PinValue.Low;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (LedRole role in _roles)
        {
            int pin = _pins[role];
            _controller.Write(pin, Level(false));
            _controller.ClosePin(pin);
        }
        _controller.Dispose();
    }
}
