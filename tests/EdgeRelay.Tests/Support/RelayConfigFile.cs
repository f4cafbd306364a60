namespace EdgeRelay.Tests.Support;

/// <summary>A configuration file for a relay process on loopback: one UDP listener, alice, loopback peers allowed.</summary>
public static class RelayConfigFile
{
    public static string Write(string directory, int port)
    {
        (int first, int last) = Ports.RelayRange();
        string path = Path.Combine(directory, "edgerelay.json");
        File.WriteAllText(path, $$"""
            {
              "realm": "{{RunningRelay.Realm}}",
              "listeners": [{ "transport": "udp", "endpoint": "127.0.0.1:{{port}}" }],
              "relay": { "address": "127.0.0.1", "portRange": "{{first}}-{{last}}" },
              "auth": { "users": { "{{RunningRelay.User}}": "{{RunningRelay.Password}}" } },
              "peers": { "allowLoopback": true }
            }
            """);
        return path;
    }
}
