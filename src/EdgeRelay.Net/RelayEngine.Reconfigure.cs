using EdgeRelay.Net.Linux;
using EdgeRelay.Net.Streams;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Net;

public sealed partial class RelayEngine
{
    /// <summary>
    /// Applies a new configuration to the running engine without dropping a call. From any thread, while
    /// traffic flows; calls are serialised. The backend and the number of loops cannot change here.
    /// </summary>
    /// <remarks>
    /// Listeners are matched with the running ones by protocol and endpoint as configured (a port 0 in the
    /// configuration matches port 0, whatever port the socket got), in order. Then, in this order:
    /// <list type="number">
    /// <item>Everything that can fail is done first: the relay addresses are checked, the new listeners are
    /// bound, and the new certificates of kept TLS listeners whose files changed are loaded. The first
    /// failure closes what this call bound and throws <see cref="ListenerBindException"/> naming the
    /// listener; nothing else has changed. So does an exception from <see cref="TurnServer.Reconfigure"/>
    /// (a bad port range), which comes next.</item>
    /// <item>The core's options are replaced under <see cref="Gate"/> (<see cref="TurnServer.Reconfigure"/>:
    /// existing allocations keep relaying).</item>
    /// <item>The stream limits are replaced: connections accepted from now on get them.</item>
    /// <item>Listeners that are no longer configured stop. A UDP listener's sockets close (each batched
    /// loop's on the loop's own thread), and the allocations made through it end with it, as a TCP
    /// connection's do when it closes (RFC 8656 §6.2): their five-tuple is gone, so their client can reach
    /// them no more. A TCP or TLS listener stops accepting; the connections it accepted stay open, counted
    /// and idle-checked, until they end.</item>
    /// </list>
    /// A kept TLS listener whose files are the same keeps its certificate source, which reloads the files
    /// when they change on disk.
    /// </remarks>
    /// <exception cref="ListenerBindException">A listener, certificate or relay address that cannot be used; nothing changed.</exception>
    public void Reconfigure(TurnServerOptions options, IReadOnlyList<ListenerOptions> listeners, StreamLimits streamLimits)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(listeners);
        ArgumentNullException.ThrowIfNull(streamLimits);
        lock (_listenersGate)
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            if (!_started)
            {
                throw new InvalidOperationException("the engine has not started: Start binds the first listeners");
            }
            CheckRelayAddresses(options);

            // Which running listener each configured one is, if any; those left over are to stop.
            var leftOver = new List<RunningListener>(_running);
            var kept = new RunningListener?[listeners.Count];
            for (int i = 0; i < listeners.Count; i++)
            {
                int match = leftOver.FindIndex(l => l.Serves(listeners[i]));
                if (match >= 0)
                {
                    kept[i] = leftOver[match];
                    leftOver.RemoveAt(match);
                }
            }

            // 1. Everything that can fail, all or nothing.
            var added = new RunningListener?[listeners.Count];
            var certificates = new TlsCertificateSource?[listeners.Count];
            try
            {
                for (int i = 0; i < listeners.Count; i++)
                {
                    if (kept[i] is null)
                    {
                        added[i] = Bind(listeners[i]);
                    }
                    else if (listeners[i].Protocol == TransportProtocol.Tls && HasOtherCertificateFiles(kept[i]!.Options, listeners[i]))
                    {
                        certificates[i] = LoadCertificate(listeners[i]);
                    }
                }
                // 2. The core's options: the last step that may fail.
                lock (Gate)
                {
                    Server.Reconfigure(options);
                }
            }
            catch
            {
                foreach (RunningListener? listener in added)
                {
                    if (listener is not null)
                    {
                        // A batched UDP socket reads from the moment it is registered: what it let in (an
                        // allocation under the old options) ends with it, as for a listener removed.
                        EndUdpAllocationsOf(listener);
                        listener.Close();
                    }
                }
                throw;
            }

            // 3. From here on nothing fails: limits, then the new set of listeners, then the old ones stop.
            _streamLimits = streamLimits;
            var next = new RunningListener[listeners.Count];
            for (int i = 0; i < listeners.Count; i++)
            {
                if (added[i] is { } listener)
                {
                    next[i] = listener;
                    Run(listener);
                    NetLog.ListenerAdded(Logger, listener.TransportName, listener.LocalEndPoint.ToString());
                    continue;
                }
                next[i] = kept[i]!;
                next[i].Options = listeners[i];
                if (certificates[i] is { } certificate)
                {
                    next[i].Stream!.Certificate = certificate;
                    NetLog.CertificateReplaced(Logger, next[i].LocalEndPoint.ToString(), listeners[i].CertificatePath!,
                        certificate.Certificate.Subject, certificate.Certificate.NotAfter.ToUniversalTime().ToString("u"));
                }
            }
            _running = next;
            ReconfigureNatDiscovery(options, leftOver);
            foreach (RunningListener listener in leftOver)
            {
                Remove(listener);
            }
        }
    }

    private static bool HasOtherCertificateFiles(ListenerOptions running, ListenerOptions wanted) =>
        !string.Equals(running.CertificatePath, wanted.CertificatePath, StringComparison.Ordinal)
        || !string.Equals(running.PrivateKeyPath, wanted.PrivateKeyPath, StringComparison.Ordinal);

    /// <summary>Stops a listener that the configuration no longer has (see <see cref="Reconfigure"/>).</summary>
    private void Remove(RunningListener listener)
    {
        if (listener.Stream is { } stream)
        {
            stream.StopAccepting();
            _retired = [.. _retired, listener];
            NetLog.StreamListenerRemoved(Logger, listener.TransportName, listener.LocalEndPoint.ToString(), stream.ConnectionCount);
            return;
        }

        int ended = EndUdpAllocationsOf(listener);
        // A batched socket leaves its loop and is closed by the loop's thread, after the sends it has
        // queued; the portable listener's receive loop ends when its socket closes.
        listener.Close();
        NetLog.UdpListenerRemoved(Logger, listener.LocalEndPoint.ToString(), ended);
    }

    /// <summary>
    /// Under the core's lock: from now on nothing the listener's sockets receive reaches the core, and the
    /// allocations made through them end (their client can no longer reach them). Returns how many.
    /// </summary>
    private int EndUdpAllocationsOf(RunningListener listener)
    {
        var ended = new List<FiveTuple>();
        lock (Gate)
        {
            listener.Udp?.MarkRemoved();
            foreach (BatchedUdpListener socket in listener.Batched ?? [])
            {
                socket.IsRemoved = true;
            }
            foreach (Allocation allocation in Server.Allocations)
            {
                if (listener.OwnsUdpContext(allocation.ClientContext))
                {
                    ended.Add(allocation.FiveTuple);
                }
            }
            foreach (FiveTuple fiveTuple in ended)
            {
                Server.DeleteAllocation(fiveTuple, "listener removed from the configuration");
            }
        }
        return ended.Count;
    }

    /// <summary>
    /// The tick's work for listeners taken out: their connections are still closed when idle, and a
    /// listener whose accept loop has ended and whose last connection closed is forgotten.
    /// </summary>
    private void CloseIdleConnectionsOfRetiredListeners()
    {
        RunningListener[] retired = _retired;
        if (retired.Length == 0)
        {
            return;
        }
        bool anyDrained = false;
        foreach (RunningListener listener in retired)
        {
            listener.Stream!.CloseIdleConnections();
            anyDrained |= listener.IsDrained;
        }
        if (anyDrained)
        {
            lock (_listenersGate)
            {
                _retired = _retired.Where(l => !l.IsDrained).ToArray();
            }
        }
    }
}
