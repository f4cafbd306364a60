using System.Device.Gpio;

namespace EdgeRelay.Appliance.Tests.Leds;

/// <summary>A GPIO chip in memory: records every write with the fake clock's time.</summary>
internal sealed class RecordingGpioDriver(ManualTimeProvider time) : GpioDriver
{
    public readonly record struct PinWrite(TimeSpan At, int Pin, PinValue Value)
    {
        public override string ToString() => $"{At.TotalMilliseconds}ms pin{Pin}={(Value == PinValue.High ? "H" : "L")}";
    }

    private readonly Dictionary<int, PinValue> _levels = [];
    private readonly Dictionary<int, PinMode> _modes = [];

    public List<PinWrite> Writes { get; } = [];

    public HashSet<int> OpenPins { get; } = [];

    public bool Disposed { get; private set; }

    public PinValue Level(int pin) => _levels[pin];

    protected override int PinCount => 28;

    protected override void OpenPin(int pinNumber) => OpenPins.Add(pinNumber);

    protected override void ClosePin(int pinNumber) => OpenPins.Remove(pinNumber);

    protected override void SetPinMode(int pinNumber, PinMode mode) => _modes[pinNumber] = mode;

    protected override PinMode GetPinMode(int pinNumber) => _modes.GetValueOrDefault(pinNumber, PinMode.Input);

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => true;

    protected override PinValue Read(int pinNumber) => _levels.GetValueOrDefault(pinNumber, PinValue.Low);

    protected override void Write(int pinNumber, PinValue value)
    {
        _levels[pinNumber] = value;
        Writes.Add(new PinWrite(time.Elapsed, pinNumber, value));
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) =>
        throw new NotSupportedException();

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) =>
        throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        Disposed = true;
        base.Dispose(disposing);
    }
}
