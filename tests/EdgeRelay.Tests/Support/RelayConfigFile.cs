namespace EdgeRelay.Tests.Support;

/// <summary>
/// A configuration file for a relay process on loopback: one UDP listener, alice, loopback peers allowed. The
/// kernel clock of a test machine (a container, a VM without NTP) is often not synchronised, which a box shows
/// as D11: time.requireSynchronisation is off, so that the health tests see is the relay's.
/// </summary>
public static class RelayConfigFile
{
    /// <param name="more">Further top-level members, e.g. <c>"status": { ... }</c>.</param>
    /// <param name="address">The listener's and the relay's address: 127.0.0.1, or one of a test namespace's own.</param>
    /// <param name="moreUsers">Users besides alice, as JSON members (<c>"mallory": "password"</c>).</param>
    /// <param name="transports">Listeners on <paramref name="port"/>: udp unless told.</param>
    public static string Write(string directory, int port, string? more = null, string address = "127.0.0.1", string? moreUsers = null,
        IReadOnlyList<string>? transports = null)
    {
        string listeners = string.Join(", ", (transports ?? ["udp"]).Select(t => $$"""{ "transport": "{{t}}", "endpoint": "{{address}}:{{port}}" }"""));
        (int first, int last) = Ports.RelayRange();
        string path = Path.Combine(directory, "edgerelay.json");
        File.WriteAllText(path, $$"""
            {
              "realm": "{{RunningRelay.Realm}}",
              "listeners": [{{listeners}}],
              "relay": { "address": "{{address}}", "portRange": "{{first}}-{{last}}" },
              "auth": { "users": { "{{RunningRelay.User}}": "{{RunningRelay.Password}}"{{(moreUsers is null ? "" : ", " + moreUsers)}} } },
              "peers": { "allowLoopback": true },
              "time": { "requireSynchronisation": false }{{(more is null ? "" : ",\n  " + more)}}
            }
            """);
        return path;
    }
}
