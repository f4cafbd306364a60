using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using EdgeRelay.Net.Udp;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Net.Streams;

/// <summary>
/// One TCP or TLS client. Reads frames (<see cref="StreamFramer"/>) and hands each to the core; what is
/// sent to the client is queued, up to <see cref="StreamLimits.MaxBufferedBytes"/>, and written by its own
/// loop so that a slow client never holds up a relay loop. Its allocation ends when it closes (RFC 8656 §6.2).
/// </summary>
internal sealed class StreamConnection : IClientSender
{
    private const int InitialBufferLength = 4096;

    private readonly Socket _socket;
    private readonly StreamListener _listener;
    private readonly RelayEngine _engine;
    private readonly StreamLimits _limits;
    private readonly CancellationTokenSource _closed = new();
    private readonly object _sendGate = new();
    private readonly SemaphoreSlim _sendSignal = new(0, 1);
    private byte[] _pending = new byte[InitialBufferLength];
    private int _pendingLength;
    private bool _signalled;
    private Stream? _stream;
    private long _lastMessageTimestamp;
    private volatile bool _holdsAllocation;
    private string _closeReason = "closed by client";

    public StreamConnection(Socket socket, StreamListener listener, RelayEngine engine, StreamLimits limits, FiveTuple fiveTuple)
    {
        _socket = socket;
        _listener = listener;
        _engine = engine;
        _limits = limits;
        FiveTuple = fiveTuple;
        _lastMessageTimestamp = engine.Time.GetTimestamp();
        AcceptedTimestamp = _lastMessageTimestamp;
    }

    public FiveTuple FiveTuple { get; }

    /// <summary>True once no message arrived for the idle timeout; the tick closes it if it holds no allocation.</summary>
    public bool IsIdle => _engine.Time.GetElapsedTime(Interlocked.Read(ref _lastMessageTimestamp)) > _limits.IdleTimeout;

    /// <summary>When the connection was accepted (a <see cref="TimeProvider"/> timestamp).</summary>
    public long AcceptedTimestamp { get; }

    /// <summary>
    /// Whether an allocation was on this five-tuple after the client's last STUN message: read without the
    /// core's lock when room is made for a new connection. It can lag behind an allocation's expiry; the
    /// idle tick asks the core itself.
    /// </summary>
    public bool HoldsAllocation => _holdsAllocation;

    public bool IsClosed => _closed.IsCancellationRequested;

    public async Task RunAsync(TlsCertificateSource? tls)
    {
        try
        {
            _socket.NoDelay = true;
            Stream stream = new NetworkStream(_socket, ownsSocket: true);
            if (tls is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token);
                handshake.CancelAfter(_limits.TlsHandshakeTimeout);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificateContext = tls.Current,
                    // TLS 1.2 and 1.3 only: older versions are broken, and no WebRTC client needs them.
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                    ClientCertificateRequired = false,
                }, handshake.Token).ConfigureAwait(false);
                stream = ssl;
            }
            _stream = stream;
            Task writer = WriteLoopAsync(stream);
            await ReadLoopAsync(stream).ConfigureAwait(false);
            Close(_closeReason);
            await writer.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or AuthenticationException or OperationCanceledException or ObjectDisposedException)
        {
            Close(_closed.IsCancellationRequested ? _closeReason : e is OperationCanceledException ? "TLS handshake timed out" : e.Message);
        }
        finally
        {
            Close(_closeReason);
            _stream?.Dispose();
            _socket.Dispose();
            _listener.Forget(this);
        }
    }

    private async Task ReadLoopAsync(Stream stream)
    {
        byte[] buffer = new byte[InitialBufferLength];
        byte[] response = new byte[TurnServer.MinResponseBufferLength];
        var scratch = new ScratchAddresses();
        int start = 0, end = 0;
        while (!_closed.IsCancellationRequested)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(end), _closed.Token).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }
            end += read;
            while (true)
            {
                FrameStatus status = StreamFramer.TryGetFrame(buffer.AsSpan(start, end - start), out int frameLength, out int messageLength);
                if (status == FrameStatus.Invalid)
                {
                    _closeReason = "not STUN or ChannelData";
                    return;
                }
                if (status == FrameStatus.Incomplete)
                {
                    if (frameLength > buffer.Length - start)
                    {
                        // Grow for a large message; compacting first keeps the buffer at one frame's size.
                        Array.Resize(ref buffer, Math.Max(frameLength, Math.Min(buffer.Length * 2, StreamFramer.MaxFrameLength)));
                    }
                    break;
                }
                Interlocked.Exchange(ref _lastMessageTimestamp, _engine.Time.GetTimestamp());
                TurnAction action;
                lock (_engine.Gate)
                {
                    if (_closed.IsCancellationRequested)
                    {
                        // Closed (and its allocation deleted, under this lock) while this frame waited: a request
                        // handled now would make an allocation that nothing deletes.
                        return;
                    }
                    action = _engine.Server.HandleClientPacket(FiveTuple, this, buffer.AsSpan(start, messageLength), response);
                    if (!ChannelData.LooksLikeChannelData(buffer.AsSpan(start, messageLength)))
                    {
                        // Only a request makes or ends an allocation; ChannelData, the hot path, needs one already.
                        _holdsAllocation = _engine.Server.FindAllocation(FiveTuple) is not null;
                    }
                }
                _engine.Execute(action, buffer.AsSpan(start, messageLength), response, scratch);
                start += frameLength;
            }
            if (start > 0)
            {
                buffer.AsSpan(start, end - start).CopyTo(buffer);
                end -= start;
                start = 0;
            }
            if (end == buffer.Length)
            {
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, StreamFramer.MaxFrameLength + 4));
            }
        }
    }

    /// <summary>Queues bytes for the client; a client that does not read fast enough loses packets, not memory.</summary>
    public void SendToClient(ReadOnlySpan<byte> data, in TransportAddress client, ScratchAddresses scratch)
    {
        lock (_sendGate)
        {
            if (_closed.IsCancellationRequested || _pendingLength + data.Length > _limits.MaxBufferedBytes)
            {
                _engine.CountDroppedToSlowClient(data.Length);
                return;
            }
            if (_pendingLength + data.Length > _pending.Length)
            {
                Array.Resize(ref _pending, Math.Min(Math.Max(_pending.Length * 2, _pendingLength + data.Length), _limits.MaxBufferedBytes));
            }
            data.CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += data.Length;
            if (!_signalled)
            {
                _signalled = true;
                _sendSignal.Release();
            }
        }
    }

    private async Task WriteLoopAsync(Stream stream)
    {
        byte[] writing = new byte[InitialBufferLength];
        try
        {
            while (true)
            {
                await _sendSignal.WaitAsync(_closed.Token).ConfigureAwait(false);
                int length;
                lock (_sendGate)
                {
                    (writing, _pending) = (_pending, writing);
                    length = _pendingLength;
                    _pendingLength = 0;
                    _signalled = false;
                }
                if (stream is SslStream)
                {
                    await WriteFramePerRecordAsync(stream, writing, length).ConfigureAwait(false);
                }
                else
                {
                    await stream.WriteAsync(writing.AsMemory(0, length), _closed.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Close(_closed.IsCancellationRequested ? _closeReason : "write failed");
        }
    }

    /// <summary>
    /// Over TLS, one record per queued message, as coturn's server writes them: a record boundary means nothing
    /// on a stream (RFC 8656 §12.5), but clients that take one SSL_read for one message (coturn's
    /// turnutils_uclient among them) lose every message after the first of a record that carries several.
    /// Everything queued is a whole STUN message or padded ChannelData, so the framer finds the boundaries.
    /// </summary>
    private async Task WriteFramePerRecordAsync(Stream stream, byte[] writing, int length)
    {
        int offset = 0;
        while (offset < length)
        {
            int frame = StreamFramer.TryGetFrame(writing.AsSpan(offset, length - offset), out int frameLength, out _) == FrameStatus.Complete
                ? frameLength
                : length - offset;
            await stream.WriteAsync(writing.AsMemory(offset, frame), _closed.Token).ConfigureAwait(false);
            offset += frame;
        }
    }

    /// <summary>Ends the connection and, with it, its allocation; false when it was closed already.</summary>
    public bool Close(string reason)
    {
        lock (_sendGate)
        {
            if (_closed.IsCancellationRequested)
            {
                return false;
            }
            _closeReason = reason;
            _closed.Cancel();
        }
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        lock (_engine.Gate)
        {
            _engine.Server.DeleteAllocation(FiveTuple, "connection closed: " + reason);
        }
        NetLog.ConnectionClosed(_engine.Logger, FiveTuple.ToString(), reason);
        return true;
    }
}
