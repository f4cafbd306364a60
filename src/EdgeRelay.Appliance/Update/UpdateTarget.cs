namespace EdgeRelay.Appliance.Update;

/// <summary>
/// The <c>update</c> section of a cloud document: the release this box should run, and how to get there.
/// </summary>
/// <param name="Version">The release's version, which the signed manifest must name as well.</param>
/// <param name="ManifestUrl">The signed manifest (https), e.g. <c>https://releases.example.com/edgerelay/1.4.2/linux-arm64.jws</c>.</param>
/// <param name="AllowDowngrade">An older version than the running one is installed only when this says so.</param>
/// <param name="HealthTimeout">How long the new version has to become READY and pass its self-probe before it is rolled back.</param>
/// <param name="Window">When the switch may happen (UTC, start inclusive, end exclusive; may wrap midnight); null: at any time.</param>
/// <param name="DrainTimeout">
/// Zero: switch at once (calls in progress end). Otherwise drain first (new allocations get 300 Try Alternate)
/// until no allocation is left or this long has passed.
/// </param>
/// <param name="SoakTime">How long the new version must pass every check before it is committed; null: <see cref="DefaultSoak"/>.</param>
public sealed record UpdateTarget(string Version, Uri ManifestUrl, bool AllowDowngrade, TimeSpan HealthTimeout, UpdateWindow? Window, TimeSpan DrainTimeout,
    TimeSpan? SoakTime = null)
{
    private static readonly TimeSpan MaxDefaultSoak = TimeSpan.FromSeconds(60);

    /// <summary>update.healthTimeoutSeconds' default, and the timeout of a trial recorded without one.</summary>
    public static readonly TimeSpan DefaultHealthTimeout = TimeSpan.FromSeconds(180);

    /// <summary>
    /// A relay that passes one probe and falls over a minute later is not proved: by default it must stay healthy for a
    /// quarter of its health timeout, at most a minute, leaving it the rest to become healthy in the first place.
    /// </summary>
    public static TimeSpan DefaultSoak(TimeSpan healthTimeout) => healthTimeout / 4 < MaxDefaultSoak ? healthTimeout / 4 : MaxDefaultSoak;

    public TimeSpan Soak => SoakTime ?? DefaultSoak(HealthTimeout);
}

/// <summary>A daily span of UTC time, such as 02:00–05:00, when the fewest calls are in progress.</summary>
public readonly record struct UpdateWindow(TimeOnly Start, TimeOnly End)
{
    public bool Contains(DateTimeOffset now)
    {
        var time = TimeOnly.FromDateTime(now.UtcDateTime);
        return Start <= End ? time >= Start && time < End : time >= Start || time < End;
    }

    /// <summary>How long until the window opens; zero inside it.</summary>
    public TimeSpan Until(DateTimeOffset now)
    {
        if (Contains(now))
        {
            return TimeSpan.Zero;
        }
        TimeSpan wait = Start.ToTimeSpan() - TimeOnly.FromDateTime(now.UtcDateTime).ToTimeSpan();
        return wait < TimeSpan.Zero ? wait + TimeSpan.FromDays(1) : wait;
    }

    public override string ToString() => $"{Start:HH\\:mm}-{End:HH\\:mm} UTC";
}
