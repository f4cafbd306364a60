using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Net.Streams;

/// <summary>
/// The certificate of a TLS listener, read from PEM files and read again when they change on disk, so
/// that a renewed certificate is served to new connections without a restart; connections already open
/// keep theirs. A renewal that cannot be loaded leaves the previous certificate in service.
/// </summary>
public sealed class TlsCertificateSource
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly string _certificatePath;
    private readonly string _privateKeyPath;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private SslStreamCertificateContext _context;
    private (DateTime, long, DateTime, long) _loadedStamp;
    private (DateTime, long, DateTime, long) _failedStamp;
    private long _lastCheck;

    public TlsCertificateSource(string certificatePath, string privateKeyPath, ILogger logger, TimeProvider? time = null)
    {
        _certificatePath = certificatePath;
        _privateKeyPath = privateKeyPath;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _loadedStamp = Stamp();
        try
        {
            (_context, Certificate) = Load();
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ListenerBindException($"cannot load the TLS certificate {certificatePath} with key {privateKeyPath}: {e.Message}", e);
        }
        _lastCheck = _time.GetTimestamp();
    }

    /// <summary>The certificate in service (for its expiry on the status page).</summary>
    public X509Certificate2 Certificate { get; private set; }

    /// <summary>The context to hand to a new connection: the files are checked at most once a second.</summary>
    public SslStreamCertificateContext Current
    {
        get
        {
            lock (_gate)
            {
                if (_time.GetElapsedTime(_lastCheck) >= CheckInterval)
                {
                    _lastCheck = _time.GetTimestamp();
                    ReloadIfChanged();
                }
                return _context;
            }
        }
    }

    private void ReloadIfChanged()
    {
        var stamp = Stamp();
        if (stamp == _loadedStamp || stamp == _failedStamp)
        {
            return;
        }
        try
        {
            (_context, Certificate) = Load();
            _loadedStamp = stamp;
            NetLog.CertificateReloaded(_logger, _certificatePath, Certificate.Subject, Certificate.NotAfter.ToUniversalTime().ToString("u"));
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            // A renewal caught half-written, or a broken one: keep serving the previous certificate.
            _failedStamp = stamp;
            NetLog.CertificateReloadFailed(_logger, _certificatePath, e.Message);
        }
    }

    private (SslStreamCertificateContext, X509Certificate2) Load()
    {
        X509Certificate2 leaf = X509Certificate2.CreateFromPemFile(_certificatePath, _privateKeyPath);
        // The rest of the PEM file is the chain to send along.
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(_certificatePath);
        var intermediates = new X509Certificate2Collection();
        foreach (X509Certificate2 certificate in chain)
        {
            if (!certificate.RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span))
            {
                intermediates.Add(certificate);
            }
        }
        return (SslStreamCertificateContext.Create(leaf, intermediates, offline: true), leaf);
    }

    private (DateTime, long, DateTime, long) Stamp()
    {
        var certificate = new FileInfo(_certificatePath);
        var key = new FileInfo(_privateKeyPath);
        return (certificate.Exists ? certificate.LastWriteTimeUtc : default, certificate.Exists ? certificate.Length : -1,
            key.Exists ? key.LastWriteTimeUtc : default, key.Exists ? key.Length : -1);
    }
}
