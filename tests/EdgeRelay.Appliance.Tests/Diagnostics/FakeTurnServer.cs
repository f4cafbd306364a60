using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Tests.Diagnostics;

/// <summary>
/// A scripted STUN/TURN server on a loopback UDP port, built with the codec: for each datagram it
/// receives, <c>answer</c> says what to send back (nothing, garbage, or responses made with
/// <see cref="Respond"/>). It lets a test be the hostile or broken server that a real one never is.
/// </summary>
internal sealed class FakeTurnServer : IDisposable
{
    public delegate void Attributes(ref StunMessageWriter writer);

    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Func<byte[], IPEndPoint, IEnumerable<byte[]>> _answer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <param name="endPoint">Where it listens: a free port of 127.0.0.1 by default.</param>
    public FakeTurnServer(Func<byte[], IPEndPoint, IEnumerable<byte[]>> answer, IPEndPoint? endPoint = null)
    {
        _answer = answer;
        _socket.Bind(endPoint ?? new IPEndPoint(IPAddress.Loopback, 0));
        _loop = Task.Run(LoopAsync);
    }

    public IPEndPoint EndPoint => (IPEndPoint)_socket.LocalEndPoint!;
    public int Port => EndPoint.Port;

    /// <summary>Every datagram received, in order.</summary>
    public ConcurrentQueue<byte[]> Received { get; } = new();

    private async Task LoopAsync()
    {
        byte[] buffer = new byte[65536];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            byte[] datagram = buffer[..received.ReceivedBytes];
            Received.Enqueue(datagram);
            var from = (IPEndPoint)received.RemoteEndPoint;
            foreach (byte[] answer in _answer(datagram, from))
            {
                await _socket.SendToAsync(answer, SocketFlags.None, from);
            }
        }
    }

    /// <summary>A response to <paramref name="request"/>, with integrity under <paramref name="key"/> when given, and FINGERPRINT.</summary>
    public static byte[] Respond(byte[] request, StunClass @class, Attributes? attributes = null, byte[]? key = null)
    {
        StunMessageReader.TryParse(request, out StunMessageReader reader);
        byte[] buffer = new byte[2048];
        var writer = new StunMessageWriter(buffer, reader.Method, @class, reader.TransactionIdBytes);
        attributes?.Invoke(ref writer);
        if (key is not null)
        {
            writer.AddMessageIntegrity(key);
        }
        writer.AddFingerprint();
        return buffer[..writer.Length];
    }

    public static byte[] Error(byte[] request, int code, string reason, Attributes? more = null) =>
        Respond(request, StunClass.ErrorResponse, (ref StunMessageWriter w) =>
        {
            w.AddErrorCode(code, reason);
            more?.Invoke(ref w);
        });

    /// <summary>The Binding success a real server sends: the client's reflexive address.</summary>
    public static byte[] BindingSuccess(byte[] request, IPEndPoint client) =>
        Respond(request, StunClass.SuccessResponse, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorMappedAddress, TransportAddress.FromIPEndPoint(client)));

    public static StunMethod MethodOf(byte[] datagram) =>
        StunMessageReader.TryParse(datagram, out StunMessageReader reader) == StunParseError.None ? reader.Method : (StunMethod)0xFFF;

    public static string? NonceOf(byte[] datagram) =>
        StunMessageReader.TryParse(datagram, out StunMessageReader reader) == StunParseError.None
        && reader.TryGetAttribute(StunAttributeType.Nonce, out ReadOnlySpan<byte> nonce)
            ? System.Text.Encoding.UTF8.GetString(nonce)
            : null;

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
    }
}
