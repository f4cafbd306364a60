using System.Net;
using System.Net.Sockets;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Cli;

/// <summary>`edgerelay run` refuses a broken configuration or a busy port before relaying, with one clear line.</summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-cli-").FullName;

    private (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = EdgeRelay.Cli.Execute(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private string WriteConfig(string json)
    {
        string path = Path.Combine(_directory, "edgerelay.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static string Config(string listeners = """[{ "transport": "udp", "endpoint": "127.0.0.1:3478" }]""", string extra = "") => $$"""
        {
          "realm": "edgerelay.test",
          "listeners": {{listeners}},
          "auth": { "users": { "alice": "correct horse battery staple" } }{{extra}}
        }
        """;

    [Fact]
    public void Version_prints_the_version()
    {
        (int exit, string stdout, _) = Run("--version");
        Assert.Equal(0, exit);
        Assert.Matches(@"^edgerelay \d+\.\d+\.\d+", stdout);
    }

    [Fact]
    public void An_unknown_key_stops_start_up_naming_the_key()
    {
        string path = WriteConfig(Config(extra: """, "relay": { "adress": "0.0.0.0" }"""));
        (int exit, _, string stderr) = Run("run", "--config", path);
        Assert.Equal(2, exit);
        Assert.Contains("relay.adress: unknown key", stderr);
        Assert.Contains(path, stderr);
    }

    [Fact]
    public void A_malformed_endpoint_stops_start_up_naming_key_value_and_expectation()
    {
        string path = WriteConfig(Config("""[{ "transport": "udp", "endpoint": "127.0.0.1" }]"""));
        (int exit, _, string stderr) = Run("run", "--config", path);
        Assert.Equal(2, exit);
        Assert.Contains("listeners[0].endpoint: \"127.0.0.1\" is not valid: expected IP:PORT", stderr);
    }

    [Theory]
    [InlineData("65535-49152")]
    [InlineData("80-90")]
    [InlineData("49152")]
    [InlineData("49152-70000")]
    [InlineData("a-b")]
    public void A_bad_port_range_stops_start_up(string range)
    {
        string path = WriteConfig(Config(extra: $$""", "relay": { "portRange": "{{range}}" }"""));
        (int exit, _, string stderr) = Run("run", "--config", path);
        Assert.Equal(2, exit);
        Assert.Contains($"relay.portRange: \"{range}\" is not valid", stderr);
    }

    [Fact]
    public void A_password_never_appears_in_an_error()
    {
        string path = WriteConfig("""{ "listeners": [{ "transport": "udp", "endpoint": "127.0.0.1:3478" }], "auth": { "users": { "bob": "short" } } }""");
        (int exit, _, string stderr) = Run("run", "--config", path);
        Assert.Equal(2, exit);
        Assert.Contains("auth.users.bob: the password is not valid", stderr);
        Assert.DoesNotContain("short\"", stderr);
    }

    [Fact]
    public void A_missing_file_is_reported()
    {
        (int exit, _, string stderr) = Run("run", "--config", Path.Combine(_directory, "nope.json"));
        Assert.Equal(2, exit);
        Assert.Contains("cannot read", stderr);
    }

    [Fact]
    public void A_busy_port_stops_start_up_naming_the_port()
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)squatter.LocalEndPoint!).Port;
        string path = WriteConfig(Config($$"""[{ "transport": "udp", "endpoint": "127.0.0.1:{{port}}" }]"""));
        (int exit, _, string stderr) = Run("run", "--config", path);
        Assert.Equal(1, exit);
        Assert.Contains($"port {port} is already in use", stderr);
    }

    [Fact]
    public void Unknown_commands_and_arguments_are_usage_errors()
    {
        Assert.Equal(64, Run("frobnicate").Exit);
        Assert.Equal(64, Run("run", "--bogus").Exit);
        Assert.Equal(64, Run().Exit);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
