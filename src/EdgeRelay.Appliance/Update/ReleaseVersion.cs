using System.Globalization;

namespace EdgeRelay.Appliance.Update;

/// <summary>
/// A release's version: two to four whole numbers joined by dots ("1.4", "1.4.2"), compared number by
/// number, a missing one counting as 0. No pre-release suffix: a box compares versions to decide what is
/// newer, and "1.4.0-rc1" against "1.4.0" is a question that a fleet should never have to ask.
/// </summary>
public readonly record struct ReleaseVersion(int Major, int Minor, int Patch, int Revision) : IComparable<ReleaseVersion>
{
    public static bool TryParse(string? text, out ReleaseVersion version)
    {
        version = default;
        if (string.IsNullOrEmpty(text) || text.Length > 64)
        {
            return false;
        }
        string[] parts = text.Split('.');
        if (parts.Length is < 2 or > 4)
        {
            return false;
        }
        int[] numbers = new int[4];
        for (int i = 0; i < parts.Length; i++)
        {
            // Digits only: int.Parse would take a sign, spaces or leading zeros' look-alikes ("٣").
            if (parts[i].Length is 0 or > 9 || !parts[i].All(char.IsAsciiDigit))
            {
                return false;
            }
            numbers[i] = int.Parse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture);
        }
        version = new ReleaseVersion(numbers[0], numbers[1], numbers[2], numbers[3]);
        return true;
    }

    public static ReleaseVersion Parse(string text) =>
        TryParse(text, out ReleaseVersion version) ? version : throw new FormatException($"\"{text}\" is not a release version: expected numbers joined by dots, e.g. \"1.4.2\"");

    public int CompareTo(ReleaseVersion other)
    {
        int c = Major.CompareTo(other.Major);
        c = c != 0 ? c : Minor.CompareTo(other.Minor);
        c = c != 0 ? c : Patch.CompareTo(other.Patch);
        return c != 0 ? c : Revision.CompareTo(other.Revision);
    }

    public static bool operator <(ReleaseVersion a, ReleaseVersion b) => a.CompareTo(b) < 0;
    public static bool operator >(ReleaseVersion a, ReleaseVersion b) => a.CompareTo(b) > 0;
    public static bool operator <=(ReleaseVersion a, ReleaseVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >=(ReleaseVersion a, ReleaseVersion b) => a.CompareTo(b) >= 0;

    public override string ToString() => Revision != 0
        ? string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}.{Revision}")
        : string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}");
}
