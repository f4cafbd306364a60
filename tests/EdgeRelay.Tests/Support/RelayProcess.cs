using System.Globalization;
using System.Text.Json;

namespace EdgeRelay.Tests.Support;

/// <summary>The shipped binary running a configuration with a status page: its process, and what the page says.</summary>
public sealed class RelayProcess : IDisposable
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    private RelayProcess(ExternalProcess process, int port, int statusPort)
    {
        Process = process;
        Port = port;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{statusPort.ToString(CultureInfo.InvariantCulture)}/") };
    }

    public ExternalProcess Process { get; }
    public int Port { get; }
    public string PortText => Port.ToString(CultureInfo.InvariantCulture);
    public HttpClient Http { get; }

    /// <summary>Starts <c>edgerelay run --config</c>; the configuration's status page must be on <paramref name="statusPort"/>.</summary>
    public static RelayProcess Start(string configPath, int port, int statusPort)
    {
        var process = ExternalProcess.Start(AotBinary.Path, "run", "--config", configPath);
        Assert.True(process.WaitForOutput("Status page on", StartLimit), process.Output);
        return new RelayProcess(process, port, statusPort);
    }

    public JsonElement Status() => JsonDocument.Parse(Http.GetStringAsync("api/status").GetAwaiter().GetResult()).RootElement.Clone();

    /// <summary>The value of one series of <c>/metrics</c>, named with its labels as the page writes them.</summary>
    public long Metric(string series) => MetricIn(Http.GetStringAsync("metrics").GetAwaiter().GetResult(), series);

    /// <summary>The value of one series in a Prometheus text of the status page.</summary>
    public static long MetricIn(string text, string series)
    {
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(series.Length + 1), CultureInfo.InvariantCulture);
            }
        }
        throw new Xunit.Sdk.XunitException($"{series} is not on /metrics:\n{text}");
    }

    public void Dispose()
    {
        Http.Dispose();
        Process.Dispose();
    }
}
