using System.Net;
using EdgeRelay.Configuration;
using EdgeRelay.Net;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Tests.Support;

/// <summary>
/// The real relay (configuration → options → engine → sockets), in this process on loopback, on a
/// listener port that was free and a relay port range of its own. By default one UDP listener on
/// 127.0.0.1; <see cref="StartWith"/> takes any listeners.
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
    public int Port => Configuration.Listeners[0].Endpoint.Port;
    public string PortText => Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static RunningRelay Start(bool allowLoopback, Func<RelayConfiguration, RelayConfiguration>? customize = null) =>
        StartWith([new ListenerConfiguration(ListenerTransport.Udp, new IPEndPoint(IPAddress.Loopback, Ports.FreeUdpPort()), null, null)],
            allowLoopback, customize);

    /// <summary>
    /// UDP and TCP on one port of 127.0.0.1, TLS on another (with a fresh self-signed certificate written
    /// into <paramref name="certificateDirectory"/>), and UDP on the first port of ::1.
    /// </summary>
    public static RunningRelay StartAllTransports(string certificateDirectory, bool allowLoopback)
    {
        int port = Ports.FreeUdpPort();
        int tlsPort = Ports.FreeUdpPort();
        string certificate = Path.Combine(certificateDirectory, "tls.crt");
        string key = Path.Combine(certificateDirectory, "tls.key");
        TestCertificates.WritePem(certificate, key, "edgerelay-test");
        return StartWith(
        [
            new ListenerConfiguration(ListenerTransport.Udp, new IPEndPoint(IPAddress.Loopback, port), null, null),
            new ListenerConfiguration(ListenerTransport.Tcp, new IPEndPoint(IPAddress.Loopback, port), null, null),
            new ListenerConfiguration(ListenerTransport.Tls, new IPEndPoint(IPAddress.Loopback, tlsPort), certificate, key),
            new ListenerConfiguration(ListenerTransport.Udp, new IPEndPoint(IPAddress.IPv6Loopback, port), null, null),
        ], allowLoopback);
    }

    public static RunningRelay StartWith(IReadOnlyList<ListenerConfiguration> listeners, bool allowLoopback,
        Func<RelayConfiguration, RelayConfiguration>? customize = null)
    {
        (int first, int last) = Ports.RelayRange();
        var configuration = new RelayConfiguration
        {
            Realm = Realm,
            Listeners = listeners,
            Relay = new RelaySection { Address = IPAddress.Loopback, Ipv6Address = IPAddress.IPv6Loopback, PortMin = first, PortMax = last },
            Auth = new AuthSection
            {
                Users = new Dictionary<string, string> { [User] = Password },
                SharedSecrets = [SharedSecret],
            },
            Peers = new PeersSection { AllowLoopback = allowLoopback },
        };
        configuration = customize?.Invoke(configuration) ?? configuration;
        var options = TurnOptionsFactory.Create(configuration, [IPAddress.Loopback, IPAddress.IPv6Loopback]);
        var engine = new RelayEngine(options, TimeProvider.System, LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning)),
            TurnOptionsFactory.CreateStreamLimits(configuration), configuration.Engine.Backend, configuration.Engine.Loops);
        engine.Start(TurnOptionsFactory.CreateListeners(configuration));
        return new RunningRelay(engine, configuration);
    }

    public ValueTask DisposeAsync() => Engine.DisposeAsync();
}
