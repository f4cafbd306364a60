using System.Net;
using EdgeRelay.Configuration;
using EdgeRelay.Net;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Tests.Support;

/// <summary>
/// The real relay (configuration → options → engine → sockets), in this process on loopback, on an
/// listener port that was free and a relay port range of its own.
/// </summary>
public sealed class RunningRelay : IAsyncDisposable
{
    public const string User = "alice";
    public const string Password = "correct horse battery staple";
    public const string SharedSecret = "rest-api-secret-for-tests";
    public const string Realm = "edgerelay.test";

    private RunningRelay(RelayEngine engine, RelayConfiguration configuration)
    {
        Engine = engine;
        Configuration = configuration;
    }

    public RelayEngine Engine { get; }
    public RelayConfiguration Configuration { get; }
    public int Port => Engine.LocalEndPoints[0].Port;
    public string PortText => Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static RunningRelay Start(bool allowLoopback, Func<RelayConfiguration, RelayConfiguration>? customize = null)
    {
        (int first, int last) = Ports.RelayRange();
        var configuration = new RelayConfiguration
        {
            Realm = Realm,
            Listeners = [new ListenerConfiguration(ListenerTransport.Udp, new IPEndPoint(IPAddress.Loopback, Ports.FreeUdpPort()), null, null)],
            Relay = new RelaySection { Address = IPAddress.Loopback, PortMin = first, PortMax = last },
            Auth = new AuthSection
            {
                Users = new Dictionary<string, string> { [User] = Password },
                SharedSecrets = [SharedSecret],
            },
            Peers = new PeersSection { AllowLoopback = allowLoopback },
        };
        configuration = customize?.Invoke(configuration) ?? configuration;
        var options = TurnOptionsFactory.Create(configuration, [IPAddress.Loopback]);
        var engine = new RelayEngine(options, TimeProvider.System, LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning)));
        engine.Start(configuration.Listeners.Select(l => l.Endpoint));
        return new RunningRelay(engine, configuration);
    }

    public ValueTask DisposeAsync() => Engine.DisposeAsync();
}
