using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>
/// Checks a TURN server end to end, the way a field technician would want it checked: Binding, an
/// Allocate, a second Allocate as the peer, permissions and channels both ways, relayed echo round trips
/// from one allocation to the other and back, and the allocations released. Every step passes or fails
/// with a reason; after a failure the rest are skipped. It never throws for anything the server or the
/// network does.
/// </summary>
public sealed class TurnProbe
{
    public const string BindingStep = "binding";
    public const string AllocateStep = "allocate";
    public const string PeerAllocateStep = "allocate-peer";
    public const string PermissionStep = "permission";
    public const string ChannelBindStep = "channel-bind";
    public const string EchoStep = "echo";
    public const string ReleaseStep = "release";

    private static readonly string[] StepNames = [BindingStep, AllocateStep, PeerAllocateStep, PermissionStep, ChannelBindStep, EchoStep, ReleaseStep];

    /// <summary>RFC 8656 §12: 0x4000 is the first channel number a client may bind.</summary>
    private const ushort Channel = 0x4000;

    /// <summary>An echo payload: an 8-byte tag of this run, a 4-byte sequence number, filler to the size of a small audio frame.</summary>
    private const int PayloadLength = 100;

    private readonly TurnProbeOptions _options;
    private readonly List<ProbeStep> _steps = [];
    private string? _failedStep;

    private TurnProbe(TurnProbeOptions options) => _options = options;

    public static async Task<TurnProbeReport> RunAsync(TurnProbeOptions options, CancellationToken cancellationToken = default)
    {
        var probe = new TurnProbe(options);
        EchoStatistics? echo = await probe.RunStepsAsync(cancellationToken).ConfigureAwait(false);
        return new TurnProbeReport(options.Server, options.Username, probe._steps, echo);
    }

    private async Task<EchoStatistics?> RunStepsAsync(CancellationToken cancellationToken)
    {
        ProbeClient? a = null, b = null;
        TransportAddress relayedA = default, relayedB = default;
        EchoStatistics? echo = null;
        try
        {
            IPEndPoint? server = null;
            await StepAsync(BindingStep, async () =>
            {
                server = await ResolveAsync(cancellationToken).ConfigureAwait(false);
                a = await ProbeClient.ConnectAsync(server, _options, cancellationToken).ConfigureAwait(false);
                StunAnswer answer = await a.RequestAsync(StunMethod.Binding, null).ConfigureAwait(false);
                if (answer.XorMappedAddress is not { } reflexive)
                {
                    throw new ProbeFailureException("the Binding success response has no XOR-MAPPED-ADDRESS (RFC 8489 §7.3.1)");
                }
                return $"reflexive {reflexive} over {a.TransportName} to {server}{(answer.Software is { } software ? $" ({software})" : string.Empty)}";
            }, cancellationToken).ConfigureAwait(false);

            await StepAsync(AllocateStep, async () =>
            {
                (relayedA, string detail) = await AllocateAsync(a!).ConfigureAwait(false);
                return detail + (a!.UsesSha256 ? ", SHA-256 credentials" : string.Empty);
            }, cancellationToken).ConfigureAwait(false);

            await StepAsync(PeerAllocateStep, async () =>
            {
                b = await ProbeClient.ConnectAsync(server!, _options, cancellationToken).ConfigureAwait(false);
                (relayedB, string detail) = await AllocateAsync(b).ConfigureAwait(false);
                return detail + " (a second client, the peer)";
            }, cancellationToken).ConfigureAwait(false);

            // RFC 8656 §9: a permission is for the peer's IP address; the relayed addresses are the relay's own,
            // which EdgeRelay's default peer policy allows within its relay port range.
            await StepAsync(PermissionStep, async () =>
            {
                await a!.RequestAsync(StunMethod.CreatePermission, PeerAddress(relayedB)).ConfigureAwait(false);
                await b!.RequestAsync(StunMethod.CreatePermission, PeerAddress(relayedA)).ConfigureAwait(false);
                return $"{relayedA} may hear {relayedB.ToIPAddress()} and {relayedB} may hear {relayedA.ToIPAddress()}";
            }, cancellationToken).ConfigureAwait(false);

            await StepAsync(ChannelBindStep, async () =>
            {
                await a!.RequestAsync(StunMethod.ChannelBind, ChannelTo(relayedB)).ConfigureAwait(false);
                await b!.RequestAsync(StunMethod.ChannelBind, ChannelTo(relayedA)).ConfigureAwait(false);
                return $"channel 0x{Channel:X4} to the peer, both ways";
            }, cancellationToken).ConfigureAwait(false);

            await StepAsync(EchoStep, async () =>
            {
                echo = await EchoAsync(a!, b!, relayedA, relayedB).ConfigureAwait(false);
                string figures = $"sent {echo.Sent}, received {echo.Received}, lost {echo.Lost}";
                if (echo.Received == 0)
                {
                    throw new ProbeFailureException($"{figures}: nothing came back through the relay");
                }
                figures += $", RTT p50 {ProbeText.Milliseconds(echo.P50Milliseconds!.Value)}, p99 {ProbeText.Milliseconds(echo.P99Milliseconds!.Value)}, max {ProbeText.Milliseconds(echo.MaxMilliseconds!.Value)}";
                if (echo.Lost > 0)
                {
                    // A healthy relay on a healthy path loses none of a few dozen datagrams.
                    throw new ProbeFailureException(figures);
                }
                return figures;
            }, cancellationToken).ConfigureAwait(false);

            await StepAsync(ReleaseStep, async () =>
            {
                // RFC 8656 §7.3: a Refresh with LIFETIME 0 deletes the allocation at once.
                await a!.RequestAsync(StunMethod.Refresh, Lifetime0).ConfigureAwait(false);
                await b!.RequestAsync(StunMethod.Refresh, Lifetime0).ConfigureAwait(false);
                return "both allocations deleted (Refresh, LIFETIME 0)";
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (cancellationToken.IsCancellationRequested)
            {
                // Cancelled (Ctrl+C, a page closed): the allocations are deleted anyway, within a short bound.
                a?.BoundRequestsBy(TimeSpan.FromSeconds(2));
                b?.BoundRequestsBy(TimeSpan.FromSeconds(2));
            }
            if (_failedStep is not null || cancellationToken.IsCancellationRequested)
            {
                await ReleaseQuietlyAsync(a, relayedA).ConfigureAwait(false);
                await ReleaseQuietlyAsync(b, relayedB).ConfigureAwait(false);
            }
            if (a is not null)
            {
                await a.DisposeAsync().ConfigureAwait(false);
            }
            if (b is not null)
            {
                await b.DisposeAsync().ConfigureAwait(false);
            }
            // A cancelled run still lists every step.
            foreach (string name in StepNames.Skip(_steps.Count))
            {
                _steps.Add(new ProbeStep(name, ProbeOutcome.Skipped, TimeSpan.Zero, "skipped: the probe was stopped"));
            }
        }
        return echo;
    }

    private async Task StepAsync(string name, Func<Task<string>> body, CancellationToken cancellationToken)
    {
        if (_failedStep is not null)
        {
            _steps.Add(new ProbeStep(name, ProbeOutcome.Skipped, TimeSpan.Zero, $"skipped: {_failedStep} failed"));
            return;
        }
        cancellationToken.ThrowIfCancellationRequested();
        long started = Stopwatch.GetTimestamp();
        string? failure;
        string detail = string.Empty;
        try
        {
            detail = await body().ConfigureAwait(false);
            failure = null;
        }
        catch (ProbeFailureException e)
        {
            failure = e.Detail;
        }
        catch (SocketException e)
        {
            failure = Describe(e);
        }
        catch (IOException e)
        {
            failure = $"the {_options.Server.TransportName} connection broke: {e.Message}";
        }
        TimeSpan duration = Stopwatch.GetElapsedTime(started);
        if (failure is null)
        {
            _steps.Add(new ProbeStep(name, ProbeOutcome.Pass, duration, detail));
        }
        else
        {
            _steps.Add(new ProbeStep(name, ProbeOutcome.Fail, duration, failure));
            _failedStep = name;
        }
    }

    private string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => $"cannot resolve {_options.Server.Host}: {e.Message}",
        SocketError.ConnectionRefused => $"connection refused: nothing listens on {_options.Server.TransportName} port {_options.Server.Port}",
        SocketError.NetworkUnreachable or SocketError.HostUnreachable => $"{_options.Server.Host} cannot be reached from here: {e.Message}",
        SocketError.AddressFamilyNotSupported => $"this machine cannot reach {_options.Server.Host}'s address family: {e.Message}",
        _ => $"{_options.Server.TransportName}: {e.Message}",
    };

    private async Task<IPEndPoint> ResolveAsync(CancellationToken cancellationToken)
    {
        if (_options.ResolvedEndPoint is { } given)
        {
            return given;
        }
        if (IPAddress.TryParse(_options.Server.Host, out IPAddress? literal))
        {
            return new IPEndPoint(literal, _options.Server.Port);
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(_options.Server.Host, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ProbeFailureException($"cannot resolve {_options.Server.Host}: no answer within {ProbeText.Seconds(_options.Timeout)}");
        }
        // IPv4 first: it is what most relays are reached by, and what most relayed addresses are.
        IPAddress? chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
        return chosen is null
            ? throw new ProbeFailureException($"cannot resolve {_options.Server.Host}: the name has no address")
            : new IPEndPoint(chosen, _options.Server.Port);
    }

    private static async Task<(TransportAddress Relayed, string Detail)> AllocateAsync(ProbeClient client)
    {
        // RFC 8656 §7.1: REQUESTED-TRANSPORT 17 (UDP), the only relayed transport of a TURN server.
        StunAnswer answer = await client.RequestAsync(StunMethod.Allocate,
            static (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24)).ConfigureAwait(false);
        if (answer.XorRelayedAddress is not { } relayed)
        {
            throw new ProbeFailureException("the Allocate success response has no XOR-RELAYED-ADDRESS (RFC 8656 §7.3)");
        }
        string lifetime = answer.Lifetime is { } seconds ? $"{seconds} s" : "not given";
        return (relayed, $"relayed {relayed}, lifetime {lifetime}");
    }

    private static ProbeClient.AttributeWriter PeerAddress(TransportAddress peer) =>
        (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);

    private static ProbeClient.AttributeWriter ChannelTo(TransportAddress peer) => (ref StunMessageWriter w) =>
    {
        // RFC 8656 §18.1: CHANNEL-NUMBER is the number then two bytes RFFU (zero).
        BinaryPrimitives.WriteUInt32BigEndian(w.AddAttribute(StunAttributeType.ChannelNumber, 4), (uint)Channel << 16);
        w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
    };

    private static void Lifetime0(ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.Lifetime, 0);

    /// <summary>
    /// A sends a numbered payload on its channel; it reaches B through both relayed addresses; B sends it
    /// back; A times the round trip. The first round trip may wait the whole timeout (the path is new);
    /// the others wait at most a second, so that a relay that drops everything is reported quickly.
    /// </summary>
    private async Task<EchoStatistics> EchoAsync(ProbeClient a, ProbeClient b, TransportAddress relayedA, TransportAddress relayedB)
    {
        byte[] tag = RandomNumberGenerator.GetBytes(8);
        var roundTrips = new List<double>(_options.Count);
        TimeSpan later = _options.Timeout < TimeSpan.FromSeconds(1) ? _options.Timeout : TimeSpan.FromSeconds(1);
        for (int i = 0; i < _options.Count; i++)
        {
            TimeSpan wait = i == 0 ? _options.Timeout : later;
            byte[] payload = new byte[PayloadLength];
            tag.CopyTo(payload, 0);
            BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(8), i);
            long sent = Stopwatch.GetTimestamp();
            await a.SendChannelDataAsync(Channel, payload).ConfigureAwait(false);

            byte[]? atPeer = await ReceiveNumberedAsync(b, relayedA, tag, i, wait).ConfigureAwait(false);
            if (atPeer is null)
            {
                continue;
            }
            await b.SendChannelDataAsync(Channel, atPeer).ConfigureAwait(false);
            if (await ReceiveNumberedAsync(a, relayedB, tag, i, wait - Stopwatch.GetElapsedTime(sent)).ConfigureAwait(false) is not null)
            {
                roundTrips.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            }
        }
        return EchoStatistics.From(_options.Count, roundTrips);
    }

    /// <summary>Waits for payload number <paramref name="number"/> of this run; late copies of earlier ones are passed over.</summary>
    private static async Task<byte[]?> ReceiveNumberedAsync(ProbeClient client, TransportAddress from, byte[] tag, int number, TimeSpan wait)
    {
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            TimeSpan left = wait - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return null;
            }
            byte[]? payload = await client.ReceiveRelayedAsync(Channel, from, left).ConfigureAwait(false);
            if (payload is null)
            {
                return null;
            }
            if (payload.Length == PayloadLength && payload.AsSpan(0, 8).SequenceEqual(tag) && BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(8)) == number)
            {
                return payload;
            }
        }
    }

    /// <summary>After a failure, allocations that were made are deleted anyway: a probe must not leave them on the box.</summary>
    private static async Task ReleaseQuietlyAsync(ProbeClient? client, TransportAddress relayed)
    {
        if (client is null || relayed.Family == 0)
        {
            return;
        }
        try
        {
            await client.RequestAsync(StunMethod.Refresh, Lifetime0).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ProbeFailureException or SocketException or IOException or OperationCanceledException)
        {
            // Best effort: the allocation expires by itself, and a stream's ends with its connection.
        }
    }
}
