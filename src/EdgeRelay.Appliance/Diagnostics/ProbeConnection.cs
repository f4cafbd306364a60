using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>
/// One client's path to the server: a connected UDP socket, or a TCP or TLS stream. A background loop
/// reads whole messages (a datagram, or one STUN message or ChannelData cut from the stream as RFC 8656
/// §12.5 frames them) into a queue, so that waiting for a message with a timeout never cancels a read
/// halfway through a TLS record.
/// </summary>
internal abstract class ProbeConnection : IAsyncDisposable
{
    private readonly Channel<byte[]> _received = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private volatile string? _closedBecause;

    protected ProbeConnection(ProbeTransport transport) => Transport = transport;

    public ProbeTransport Transport { get; }
    public string TransportName => Transport.ToString().ToLowerInvariant();

    /// <summary>Streams deliver or fail; only UDP needs retransmissions (RFC 8489 §6.2.1 vs §6.2.2).</summary>
    public bool IsReliable => Transport != ProbeTransport.Udp;

    /// <summary>An ICMP port unreachable came back for something we sent (UDP only).</summary>
    public bool SawPortUnreachable { get; protected set; }

    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken);

    public static async Task<ProbeConnection> OpenAsync(IPEndPoint server, TurnUrl url, TurnProbeOptions options, CancellationToken cancellationToken)
    {
        ProbeConnection connection;
        if (url.Transport == ProbeTransport.Udp)
        {
            var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                // Connected: the kernel drops datagrams from anyone but the server, and reports ICMP errors.
                socket.Connect(server);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            connection = new UdpConnection(socket);
        }
        else
        {
            connection = await StreamConnection.ConnectAsync(server, url, options, cancellationToken).ConfigureAwait(false);
        }
        connection._loop = Task.Run(() => connection.ReceiveLoopAsync(connection._stop.Token), CancellationToken.None);
        return connection;
    }

    /// <summary>The next message, or null when none came within <paramref name="wait"/>.</summary>
    public async ValueTask<byte[]?> ReceiveAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        if (_received.Reader.TryRead(out byte[]? ready))
        {
            return ready;
        }
        if (wait <= TimeSpan.Zero)
        {
            ThrowIfClosed();
            return null;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(wait);
        try
        {
            while (await _received.Reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
            {
                if (_received.Reader.TryRead(out byte[]? message))
                {
                    return message;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        ThrowIfClosed();
        return null;
    }

    private void ThrowIfClosed()
    {
        if (_received.Reader.Completion.IsCompleted)
        {
            throw new ProbeFailureException(_closedBecause ?? $"the {TransportName} connection was closed");
        }
    }

    protected abstract Task ReceiveLoopAsync(CancellationToken cancellationToken);

    protected bool Deliver(byte[] message) => _received.Writer.TryWrite(message);

    protected void Close(string reason)
    {
        _closedBecause ??= reason;
        _received.Writer.TryComplete();
    }

    protected abstract void CloseTransport();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        CloseTransport();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or IOException or SocketException)
        {
            // The loop ends however the transport's closing makes it end.
        }
        _stop.Dispose();
    }

    private sealed class UdpConnection(Socket socket) : ProbeConnection(ProbeTransport.Udp)
    {
        public override async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
        {
            try
            {
                await socket.SendAsync(message, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // An ICMP error for an earlier datagram surfaced on this send; UDP goes on trying.
                SawPortUnreachable = true;
            }
        }

        protected override async Task ReceiveLoopAsync(CancellationToken cancellationToken)
        {
            byte[] buffer = new byte[65536];
            while (!cancellationToken.IsCancellationRequested)
            {
                int n;
                try
                {
                    n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    // ICMP port unreachable (RFC 1122 §4.1.3.3 passes it up); it may be transient, so go on listening.
                    SawPortUnreachable = true;
                    continue;
                }
                catch (SocketException e)
                {
                    Close($"udp receive failed: {e.Message}");
                    return;
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
                {
                    Close("the probe closed the socket");
                    return;
                }
                Deliver(buffer.AsSpan(0, n).ToArray());
            }
        }

        protected override void CloseTransport() => socket.Dispose();
    }

    private sealed class StreamConnection : ProbeConnection
    {
        private readonly Socket _socket;
        private readonly Stream _stream;

        private StreamConnection(ProbeTransport transport, Socket socket, Stream stream) : base(transport)
        {
            _socket = socket;
            _stream = stream;
        }

        public static async Task<ProbeConnection> ConnectAsync(IPEndPoint server, TurnUrl url, TurnProbeOptions options, CancellationToken cancellationToken)
        {
            var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Stream? stream = null;
            try
            {
                using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    connect.CancelAfter(options.Timeout);
                    try
                    {
                        await socket.ConnectAsync(server, connect.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new ProbeFailureException($"no answer within {ProbeText.Seconds(options.Timeout)} to a tcp connection to {server}");
                    }
                    catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                    {
                        throw new ProbeFailureException($"connection refused by {server}: nothing listens on tcp port {server.Port}");
                    }
                }
                stream = new NetworkStream(socket, ownsSocket: false);
                if (url.Transport == ProbeTransport.Tls)
                {
                    stream = await HandshakeAsync(stream, url, options, cancellationToken).ConfigureAwait(false);
                }
                return new StreamConnection(url.Transport, socket, stream);
            }
            catch
            {
                if (stream is not null)
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                }
                socket.Dispose();
                throw;
            }
        }

        private static async Task<Stream> HandshakeAsync(Stream network, TurnUrl url, TurnProbeOptions options, CancellationToken cancellationToken)
        {
            SslPolicyErrors seen = SslPolicyErrors.None;
            X509ChainStatusFlags chainStatus = X509ChainStatusFlags.NoError;
            var tls = new SslStream(network, leaveInnerStreamOpen: false);
            var authentication = new SslClientAuthenticationOptions
            {
                // The name checked against the certificate (and sent as SNI when it is a name, RFC 6066 §3).
                TargetHost = url.Host,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                RemoteCertificateValidationCallback = (_, _, chain, errors) =>
                {
                    seen = errors;
                    foreach (X509ChainStatus status in chain?.ChainStatus ?? [])
                    {
                        chainStatus |= status.Status;
                    }
                    // --insecure: a self-signed box is checked for everything but who it is.
                    return options.InsecureSkipCertificateCheck || errors == SslPolicyErrors.None;
                },
            };
            if (options.TrustedCertificateAuthority is { } ca)
            {
                var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
                policy.CustomTrustStore.Add(ca);
                authentication.CertificateChainPolicy = policy;
            }
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            handshake.CancelAfter(options.Timeout);
            try
            {
                await tls.AuthenticateAsClientAsync(authentication, handshake.Token).ConfigureAwait(false);
                return tls;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                throw new ProbeFailureException($"the TLS handshake did not finish within {ProbeText.Seconds(options.Timeout)}");
            }
            catch (Exception e) when (e is AuthenticationException or IOException)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                throw new ProbeFailureException(DescribeTlsFailure(e, seen, chainStatus, options));
            }
        }

        private static string DescribeTlsFailure(Exception e, SslPolicyErrors errors, X509ChainStatusFlags chain, TurnProbeOptions options)
        {
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            {
                return "TLS: the server's certificate is not for this host name (use the name it was issued for, or --insecure)";
            }
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
            {
                string what = chain.HasFlag(X509ChainStatusFlags.NotTimeValid) ? "expired or not yet valid" : "not trusted";
                string hint = options.TrustedCertificateAuthority is null
                    ? " (a self-signed box: pass its certificate with --ca FILE, or --insecure)"
                    : " (not issued by the --ca certificate)";
                return $"TLS: the server's certificate is {what}{hint}";
            }
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
            {
                return "TLS: the server sent no certificate";
            }
            return $"TLS handshake failed: {e.Message}";
        }

        public override async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
        {
            try
            {
                await _stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
                await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new ProbeFailureException($"the {TransportName} connection broke while sending: {e.Message}");
            }
        }

        protected override async Task ReceiveLoopAsync(CancellationToken cancellationToken)
        {
            byte[] header = new byte[ChannelData.HeaderLength];
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    await _stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
                    int declared = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
                    int total, keep;
                    if ((header[0] & 0xC0) == 0)
                    {
                        // RFC 8489 §6.2.2 / RFC 8656 §12.5: a STUN message is its 20-byte header plus the length it declares.
                        total = keep = StunConstants.HeaderLength + declared;
                    }
                    else if (ChannelData.LooksLikeChannelData(header))
                    {
                        // RFC 8656 §12.5: over a stream, ChannelData is padded to a multiple of 4 bytes.
                        keep = ChannelData.HeaderLength + declared;
                        total = StunPadding.Pad4(keep);
                    }
                    else
                    {
                        Close($"the server sent bytes over {TransportName} that are neither STUN nor ChannelData: the stream cannot be framed (RFC 8656 §12.5)");
                        return;
                    }
                    byte[] message = new byte[total];
                    header.CopyTo(message, 0);
                    await _stream.ReadExactlyAsync(message.AsMemory(ChannelData.HeaderLength), cancellationToken).ConfigureAwait(false);
                    Deliver(keep == total ? message : message[..keep]);
                }
            }
            catch (EndOfStreamException)
            {
                Close($"the server closed the {TransportName} connection");
            }
            catch (IOException e)
            {
                Close($"the {TransportName} connection broke: {e.Message}");
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                Close("the probe closed the connection");
            }
        }

        protected override void CloseTransport()
        {
            _stream.Dispose();
            _socket.Dispose();
        }
    }
}
