using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>
/// One local UDP port of the NAT behaviour tests. Unlike the relay probe's connected socket it is not
/// connected: the tests send to several server addresses from the same port (RFC 5780 §4.3) and must see
/// answers that come from another address than the one asked (§4.4). A background loop queues every
/// datagram with where it came from.
/// </summary>
internal sealed class NatBehaviorSocket : IDisposable
{
    private readonly Socket _socket;
    private readonly Channel<(byte[] Message, IPEndPoint From)> _received =
        Channel.CreateUnbounded<(byte[], IPEndPoint)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationToken _cancellation;

    /// <summary>Tries at a random free port of the range before letting the kernel pick one.</summary>
    private const int PortAttempts = 16;

    private NatBehaviorSocket(AddressFamily family, IPAddress? localAddress, (int Min, int Max)? localPorts, CancellationToken cancellation)
    {
        _cancellation = cancellation;
        _socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            IPAddress address = localAddress is not null && localAddress.AddressFamily == family ? localAddress
                : family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
            Bind(address, localPorts);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
        _ = Task.Run(ReceiveLoopAsync, CancellationToken.None);
    }

    public static NatBehaviorSocket Open(AddressFamily family, IPAddress? localAddress, (int Min, int Max)? localPorts, CancellationToken cancellation) =>
        new(family, localAddress, localPorts, cancellation);

    private void Bind(IPAddress address, (int Min, int Max)? ports)
    {
        if (ports is { } range)
        {
            for (int attempt = 0; attempt < PortAttempts; attempt++)
            {
                try
                {
                    _socket.Bind(new IPEndPoint(address, RandomNumberGenerator.GetInt32(range.Min, range.Max + 1)));
                    return;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
                {
                    // Taken (by a relayed address, most likely): another one.
                }
            }
        }
        _socket.Bind(new IPEndPoint(address, 0));
    }

    public int LocalPort => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    /// <summary>Unreadable, unauthentic or unexpected datagrams passed over, for the report.</summary>
    public int Ignored { get; private set; }

    /// <summary>
    /// A Binding request to <paramref name="server"/> (with CHANGE-REQUEST, RFC 5780 §7.2, and RESPONSE-PORT,
    /// §7.5, when given), retransmitted as RFC 8489 §6.2.1 says until <paramref name="timeout"/>; the answer
    /// is awaited on <paramref name="answerOn"/> (this socket by default). Null when none came: for the
    /// filtering tests that is a finding, not a failure.
    /// </summary>
    public async Task<NatAnswer?> BindingAsync(IPEndPoint server, TimeSpan timeout, ChangeRequestFlags change = ChangeRequestFlags.None,
        ushort? responsePort = null, NatBehaviorSocket? answerOn = null)
    {
        byte[] transactionId = RandomNumberGenerator.GetBytes(StunConstants.TransactionIdLength);
        byte[] request = BindingRequest(transactionId, change, responsePort);
        NatBehaviorSocket receiver = answerOn ?? this;
        long started = Stopwatch.GetTimestamp();
        TimeSpan rto = ProbeClient.InitialRto;
        TimeSpan nextSend = TimeSpan.Zero;
        while (true)
        {
            TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed >= timeout)
            {
                return null;
            }
            if (elapsed >= nextSend)
            {
                await SendAsync(request, server).ConfigureAwait(false);
                nextSend = elapsed + rto;
                rto *= 2;
            }
            (byte[] Message, IPEndPoint From)? received = await receiver.ReceiveAsync(TimeSpan.FromTicks(Math.Min(nextSend.Ticks, timeout.Ticks)) - elapsed)
                .ConfigureAwait(false);
            if (received is not { } datagram)
            {
                continue;
            }
            if (StunAnswer.TryRead(datagram.Message, transactionId, null, out StunAnswer? answer, out bool relevant))
            {
                return new NatAnswer(answer!, datagram.From);
            }
            if (relevant)
            {
                receiver.Ignored++;
            }
        }
    }

    /// <summary>A Binding request as the hairpinning test's marker (RFC 5780 §4.5): its transaction ID is what the other socket looks for.</summary>
    public static byte[] BindingRequest(ReadOnlySpan<byte> transactionId, ChangeRequestFlags change = ChangeRequestFlags.None, ushort? responsePort = null)
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, transactionId);
        if (change != ChangeRequestFlags.None)
        {
            writer.AddChangeRequest(change);
        }
        if (responsePort is { } port)
        {
            writer.AddResponsePort(port);
        }
        writer.AddFingerprint();
        return buffer[..writer.Length];
    }

    public async Task SendAsync(byte[] datagram, IPEndPoint to)
    {
        if (to.AddressFamily != _socket.AddressFamily || to.Port == 0)
        {
            // A mapped or other address of another family, or port 0, from a confused or hostile server: nowhere to send.
            return;
        }
        try
        {
            await _socket.SendToAsync(datagram, SocketFlags.None, to, _cancellation).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // UDP: a send that fails (no route, an ICMP error of an earlier datagram) is a datagram lost; the test sees no answer.
        }
    }

    /// <summary>Waits up to <paramref name="wait"/> for a datagram that <paramref name="wanted"/> accepts; the others are dropped.</summary>
    public async Task<bool> WaitForAsync(Func<byte[], IPEndPoint, bool> wanted, TimeSpan wait)
    {
        long started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < wait)
        {
            if (await ReceiveAsync(wait - Stopwatch.GetElapsedTime(started)).ConfigureAwait(false) is { } datagram && wanted(datagram.Message, datagram.From))
            {
                return true;
            }
        }
        return false;
    }

    private async Task<(byte[] Message, IPEndPoint From)?> ReceiveAsync(TimeSpan wait)
    {
        if (_received.Reader.TryRead(out (byte[], IPEndPoint) ready))
        {
            return ready;
        }
        if (wait <= TimeSpan.Zero)
        {
            return null;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_cancellation);
        timeout.CancelAfter(wait);
        try
        {
            while (await _received.Reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
            {
                if (_received.Reader.TryRead(out (byte[], IPEndPoint) datagram))
                {
                    return datagram;
                }
            }
        }
        catch (OperationCanceledException) when (!_cancellation.IsCancellationRequested)
        {
        }
        return null;
    }

    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = new byte[65536];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                SocketReceiveFromResult result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
                _received.Writer.TryWrite((buffer.AsSpan(0, result.ReceivedBytes).ToArray(), (IPEndPoint)result.RemoteEndPoint));
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset or SocketError.MessageSize)
            {
                // An ICMP error or an oversized datagram: nothing to keep, keep listening.
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                break;
            }
        }
        _received.Writer.TryComplete();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _stop.Dispose();
    }
}

/// <summary>A Binding answer and the address it came from (RFC 5780 §4.4 checks that a changed request came from the changed address).</summary>
internal sealed record NatAnswer(StunAnswer Answer, IPEndPoint From)
{
    public bool IsSuccess => Answer.Class == StunClass.SuccessResponse;
    public TransportAddress? Mapped => IsSuccess && Answer.XorMappedAddress is { } mapped && mapped.Family == Family(From) ? mapped : null;

    private static StunAddressFamily Family(IPEndPoint endPoint) =>
        endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? StunAddressFamily.IPv6 : StunAddressFamily.IPv4;
}
