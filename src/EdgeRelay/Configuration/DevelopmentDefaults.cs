using EdgeRelay.Appliance.Leds;
using System.Net;
using System.Security.Cryptography;

namespace EdgeRelay.Configuration;

/// <summary>
/// What <c>edgerelay run</c> without a file runs: TURN on UDP 3478 with one generated user, kept in the
/// user's state directory so that the printed credential survives a restart. Nothing else is open:
/// the peer policy is the safe default.
/// </summary>
public static class DevelopmentDefaults
{
    public const string Username = "dev";

    /// <summary>The development default's status page, on loopback: 8 and the TURN port.</summary>
    public const int StatusPort = 8478;

    public static RelayConfiguration Create(out string password)
    {
        string stateDirectory = GetStateDirectory();
        password = LoadOrCreatePassword(stateDirectory);
        return new RelayConfiguration
        {
            Realm = "edgerelay.local",
            Listeners = [new ListenerConfiguration(ListenerTransport.Udp, new IPEndPoint(IPAddress.Any, 3478), null, null)],
            Auth = new AuthSection { Users = new Dictionary<string, string> { [Username] = password } },
            StateDirectory = stateDirectory,
            // What a box would show, for a developer: the LEDs as log lines, the page on loopback only.
            Leds = new LedOptions { Driver = LedDriverKind.Console },
            Status = new StatusSection(new IPEndPoint(IPAddress.Loopback, StatusPort)),
        };
    }

    private static string GetStateDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        string baseDirectory = !string.IsNullOrEmpty(xdg) && Path.IsPathFullyQualified(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        return Path.Combine(baseDirectory, "edgerelay");
    }

    private static string LoadOrCreatePassword(string stateDirectory)
    {
        string path = Path.Combine(stateDirectory, "development-password");
        try
        {
            if (File.Exists(path))
            {
                string existing = File.ReadAllText(path).Trim();
                if (existing.Length >= ConfigurationReader.MinSecretLength)
                {
                    return existing;
                }
            }
            Directory.CreateDirectory(stateDirectory);
            string password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');
            File.WriteAllText(path, password + "\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            return password;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only home still gets a working relay; the password is just new each time.
            return Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');
        }
    }
}
