using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace EdgeRelay.Net.Linux;

/// <summary>
/// The recvmmsg/sendmmsg backend: epoll tells which of the loop's UDP sockets are readable, recvmmsg
/// takes up to <see cref="BatchLoop.BatchSize"/> datagrams in one system call, and sendmmsg sends the
/// answers in one call per socket. It needs nothing newer than Linux 3.0, so it is the fallback when
/// io_uring is not allowed (<see cref="IoUringLoop"/>).
/// </summary>
internal sealed unsafe class EpollLoop : BatchLoop
{
    private const int MaxEvents = 64;
    private const int WaitMilliseconds = 200;

    private readonly int _epfd;
    private readonly ConcurrentDictionary<int, BatchedSocket> _sockets = new();
    private readonly BatchedSocket?[] _senders = new BatchedSocket?[BatchSize];

    // Native memory: receive slots, responses, and the message headers that point into them.
    private readonly byte* _slots;
    private readonly byte* _responses;
    private readonly byte* _recvNames;
    private readonly Libc.IoVec* _recvIov;
    private readonly Libc.MMsgHdr* _recvMsgs;
    private readonly byte* _sendNames;
    private readonly Libc.IoVec* _sendIov;
    private readonly Libc.MMsgHdr* _sendMsgs;
    private readonly byte* _events;

    public EpollLoop(RelayEngine engine, int index) : base(engine, index)
    {
        _epfd = Libc.EpollCreate1(Libc.EpollCloexec);
        if (_epfd < 0)
        {
            throw new InvalidOperationException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        }
        _slots = (byte*)NativeMemory.AllocZeroed((nuint)(BatchSize * SlotSize));
        _responses = (byte*)NativeMemory.AllocZeroed((nuint)(BatchSize * ResponseSize));
        _recvNames = (byte*)NativeMemory.AllocZeroed((nuint)(BatchSize * Libc.SockaddrIn6Size));
        _recvIov = (Libc.IoVec*)NativeMemory.AllocZeroed((nuint)(BatchSize * sizeof(Libc.IoVec)));
        _recvMsgs = (Libc.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(BatchSize * sizeof(Libc.MMsgHdr)));
        _sendNames = (byte*)NativeMemory.AllocZeroed((nuint)(BatchSize * Libc.SockaddrIn6Size));
        _sendIov = (Libc.IoVec*)NativeMemory.AllocZeroed((nuint)(BatchSize * sizeof(Libc.IoVec)));
        _sendMsgs = (Libc.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(BatchSize * sizeof(Libc.MMsgHdr)));
        _events = (byte*)NativeMemory.AllocZeroed((nuint)(MaxEvents * Libc.EpollEventSize));
        for (int i = 0; i < BatchSize; i++)
        {
            byte* slot = _slots + i * SlotSize;
            Slots[i] = (nint)slot;
            Responses[i] = (nint)(_responses + i * ResponseSize);
            _recvMsgs[i].Header.Name = _recvNames + i * Libc.SockaddrIn6Size;
            _recvMsgs[i].Header.Iov = &_recvIov[i];
            _recvMsgs[i].Header.IovLength = 1;
            _recvIov[i].Base = slot + Turn.TurnServer.PeerDataHeadroom;
            _sendMsgs[i].Header.Name = _sendNames + i * Libc.SockaddrIn6Size;
            _sendMsgs[i].Header.Iov = &_sendIov[i];
            _sendMsgs[i].Header.IovLength = 1;
        }
    }

    public override void Register(BatchedSocket socket)
    {
        socket.Loop = this;
        _sockets[socket.Fd] = socket;
        byte* ev = stackalloc byte[16];
        *(uint*)ev = Libc.EpollIn;
        *(ulong*)(ev + Libc.EpollEventDataOffset) = (ulong)socket.Fd;
        if (Libc.EpollCtl(_epfd, Libc.EpollCtlAdd, socket.Fd, ev) != 0)
        {
            _sockets.TryRemove(socket.Fd, out _);
            throw new InvalidOperationException($"epoll_ctl ADD failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    protected override void Remove(BatchedSocket socket)
    {
        Libc.EpollCtl(_epfd, Libc.EpollCtlDel, socket.Fd, null);
        _sockets.TryRemove(new KeyValuePair<int, BatchedSocket>(socket.Fd, socket));
    }

    protected override void Run()
    {
        while (Running)
        {
            int ready = Libc.EpollWait(_epfd, _events, MaxEvents, WaitMilliseconds);
            for (int e = 0; e < ready && Running; e++)
            {
                int fd = (int)*(ulong*)(_events + e * Libc.EpollEventSize + Libc.EpollEventDataOffset);
                if (_sockets.TryGetValue(fd, out BatchedSocket? socket))
                {
                    Drain(socket);
                }
            }
            CloseRemoved();
            CountTurn();
        }
    }

    /// <summary>Reads the socket in batches until it is empty, or for a few batches so that others get their turn.</summary>
    private void Drain(BatchedSocket socket)
    {
        for (int round = 0; round < 8; round++)
        {
            for (int i = 0; i < BatchSize; i++)
            {
                _recvMsgs[i].Header.NameLength = Libc.SockaddrIn6Size;
                _recvMsgs[i].Header.Flags = 0;
                _recvIov[i].Length = MaxDatagram + 1;
            }
            int count = Libc.RecvMmsg(socket.Fd, _recvMsgs, BatchSize, Libc.MsgDontWait, null);
            if (count <= 0)
            {
                return;
            }
            for (int i = 0; i < count; i++)
            {
                Received[i] = socket;
                Sources[i] = SockaddrCodec.Read((byte*)_recvMsgs[i].Header.Name);
                Lengths[i] = (_recvMsgs[i].Header.Flags & Libc.MsgTrunc) != 0 ? -1 : (int)_recvMsgs[i].Length;
            }
            HandleBatch(count);
            Send(count);
            CountBatch(count);
            if (count < BatchSize)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Sends what the batch asked for. Datagrams are grouped by the socket they leave from (keeping their
    /// order within a socket), so that each socket gets one sendmmsg for the whole batch: client→peer
    /// traffic of many allocations interleaves in a batch, and would otherwise cost a call per datagram.
    /// </summary>
    private void Send(int count)
    {
        for (int i = 0; i < count; i++)
        {
            _senders[i] = PrepareSend(i);
        }

        int queued = 0;
        for (int i = 0; i < count; i++)
        {
            BatchedSocket? from = _senders[i];
            if (from is null)
            {
                continue;
            }
            int start = queued;
            for (int j = i; j < count; j++)
            {
                if (_senders[j] != from)
                {
                    continue;
                }
                _senders[j] = null;
                _sendIov[queued].Base = Outgoing(j, out int length);
                _sendIov[queued].Length = (nuint)length;
                _sendMsgs[queued].Header.NameLength = SockaddrCodec.Write((byte*)_sendMsgs[queued].Header.Name, Destination(j), from.IsIPv6);
                queued++;
            }
            SendRun(from.Fd, start, queued);
        }
    }

    private void SendRun(int fd, int start, int end)
    {
        while (start < end)
        {
            int sent = Libc.SendMmsg(fd, _sendMsgs + start, (uint)(end - start), Libc.MsgDontWait);
            // sendmmsg stops at the first datagram that fails (a full buffer, an ICMP error reported
            // late): UDP is best effort, so that one is dropped and the rest of the run goes on.
            start += Math.Max(sent, 0);
            if (start < end)
            {
                Engine.CountSendFailures(1);
                start++;
            }
        }
    }

    protected override void ReleaseNative()
    {
        Libc.Close(_epfd);
        NativeMemory.Free(_slots);
        NativeMemory.Free(_responses);
        NativeMemory.Free(_recvNames);
        NativeMemory.Free(_recvIov);
        NativeMemory.Free(_recvMsgs);
        NativeMemory.Free(_sendNames);
        NativeMemory.Free(_sendIov);
        NativeMemory.Free(_sendMsgs);
        NativeMemory.Free(_events);
    }
}
