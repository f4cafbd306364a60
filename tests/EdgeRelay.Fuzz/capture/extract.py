#!/usr/bin/env python3
"""Turns a tcpdump capture of real clients talking to EdgeRelay into the seed corpus of the fuzz targets.

    extract.py CAPTURE.pcap SERVER_PORT CORPUS_DIR [PREFIX]

SERVER_PORT 0 finds the relay's ports by themselves: every port an Allocate request was sent to (for a
capture of a test that starts relays on ports of its own choosing).

Writes, under CORPUS_DIR:
  stun/         distinct STUN messages both ways (one per message shape: method, class, attribute types)
  channeldata/  a few ChannelData datagrams of distinct lengths
  stream/       the first bytes of each TCP connection, client to server and server to client
  turn/         one script per client session (see Targets/TurnScript.cs for the format): every message the
                client sent, in order, re-signed by the harness, and the peer's echo of what it relayed
Only the Python standard library; classic pcap of an Ethernet or Linux "any" capture, IPv4 and IPv6.
"""
import hashlib
import os
import struct
import sys

MAX_PER_SHAPE = 1
MAX_CHANNELDATA = 12
MAX_STREAM_BYTES = 2048
MAX_SCRIPT_RECORDS = 40


def packets(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    endian = '<' if magic in (0xA1B2C3D4, 0xA1B23C4D) else '>'
    linktype = struct.unpack(endian + 'I', data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:      # Ethernet
            ethertype, payload = struct.unpack('>H', frame[12:14])[0], frame[14:]
        elif linktype == 113:  # Linux cooked
            ethertype, payload = struct.unpack('>H', frame[14:16])[0], frame[16:]
        else:
            raise SystemExit(f'link type {linktype} not handled')
        if ethertype == 0x0800:
            ihl = (payload[0] & 0x0F) * 4
            proto, src, dst = payload[9], payload[12:16], payload[16:20]
            total = struct.unpack('>H', payload[2:4])[0]
            l4 = payload[ihl:total]
        elif ethertype == 0x86DD:
            proto, src, dst = payload[6], payload[8:24], payload[24:40]
            l4 = payload[40:40 + struct.unpack('>H', payload[4:6])[0]]
        else:
            continue
        yield sec + usec / 1e6, proto, src, dst, l4


def stun_shape(msg):
    types = []
    off = 20
    while off + 4 <= len(msg):
        t, l = struct.unpack('>HH', msg[off:off + 4])
        types.append(t)
        off += 4 + ((l + 3) & ~3)
    return (msg[0:2], tuple(types))


def is_stun(msg):
    return len(msg) >= 20 and msg[0] & 0xC0 == 0 and msg[4:8] == b'\x21\x12\xa4\x42'


def frames(stream):
    """RFC 8656 §12.5 framing, as StreamFramer does it."""
    out, off = [], 0
    while off + 4 <= len(stream):
        length = struct.unpack('>H', stream[off + 2:off + 4])[0]
        if stream[off] & 0xC0 == 0:
            n = m = 20 + length
        elif stream[off] & 0xC0 == 0x40:
            m = 4 + length
            n = (m + 3) & ~3
        else:
            break
        if off + n > len(stream):
            break
        out.append(stream[off:off + n])
        off += n
    return out


def record(op, payload):
    return bytes([op]) + struct.pack('>H', len(payload)) + payload


def main():
    pcap, port, corpus = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if port:
        ports = {port}
    else:
        ports = set()
        for _, proto, _, _, l4 in packets(pcap):
            if proto in (6, 17):
                body = l4[8:] if proto == 17 else l4[(l4[12] >> 4) * 4:]
                if is_stun(body) and body[0:2] == b'\x00\x03':
                    ports.add(struct.unpack('>H', l4[2:4])[0])
        print(f'relay ports: {sorted(ports)}')
    prefix = sys.argv[4] if len(sys.argv) > 4 else 'uclient'
    for d in ('stun', 'channeldata', 'stream', 'turn'):
        os.makedirs(os.path.join(corpus, d), exist_ok=True)

    udp_sessions = {}   # client (ip, port) -> [(time, bytes)]
    tcp_streams = {}    # (client, direction) -> {seq: bytes}
    server_msgs = []
    for t, proto, src, dst, l4 in packets(pcap):
        if proto == 17:
            sport, dport = struct.unpack('>HH', l4[:4])
            body = l4[8:]
            if dport in ports:
                udp_sessions.setdefault((src, sport), []).append((t, body))
            elif sport in ports:
                server_msgs.append(body)
        elif proto == 6:
            sport, dport = struct.unpack('>HH', l4[:4])
            seq = struct.unpack('>I', l4[4:8])[0]
            body = l4[(l4[12] >> 4) * 4:]
            if not body:
                continue
            if dport in ports:
                tcp_streams.setdefault(((src, sport), 'c2s'), {}).setdefault(seq, (t, body))
            elif sport in ports:
                tcp_streams.setdefault(((dst, dport), 's2c'), {}).setdefault(seq, (t, body))

    def write(kind, content):
        name = f'{prefix}-{hashlib.sha1(content).hexdigest()[:12]}'
        with open(os.path.join(corpus, kind, name), 'wb') as f:
            f.write(content)

    shapes = {}
    channel_lengths = set()

    def seed_message(msg):
        if is_stun(msg):
            shape = stun_shape(msg)
            if shapes.get(shape, 0) < MAX_PER_SHAPE:
                shapes[shape] = shapes.get(shape, 0) + 1
                write('stun', msg)
        elif msg and msg[0] & 0xC0 == 0x40 and len(msg) not in channel_lengths and len(channel_lengths) < MAX_CHANNELDATA:
            channel_lengths.add(len(msg))
            write('channeldata', msg)

    def script(messages, source, times):
        out, last = b'', times[0] if times else 0
        for t, msg in zip(times, messages):
            advance = 0
            dt = t - last
            last = t
            while advance < 15 and dt >= 0.1 * (2 ** advance) * 0.75:
                advance += 1
            op = source | (advance << 4)
            if is_stun(msg) and b'\x00\x08\x00\x14' in msg:
                op |= 4  # re-sign: MESSAGE-INTEGRITY present
            out += record(op, msg)
            relayed = None
            if msg[0] & 0xC0 == 0x40:
                relayed = msg[4:4 + struct.unpack('>H', msg[2:4])[0]]
            elif is_stun(msg) and msg[0:2] == b'\x00\x16':  # Send indication: echo its DATA
                off = 20
                while off + 4 <= len(msg):
                    ty, ln = struct.unpack('>HH', msg[off:off + 4])
                    if ty == 0x0013:
                        relayed = msg[off + 4:off + 4 + ln]
                    off += 4 + ((ln + 3) & ~3)
            if relayed is not None:
                out += record(source | 8, relayed)  # turnutils_peer echoes it back
        return out

    sessions = 0
    for client, msgs in udp_sessions.items():
        for _, m in msgs:
            seed_message(m)
        msgs = msgs[:MAX_SCRIPT_RECORDS]
        write('turn', script([m for _, m in msgs], 0, [t for t, _ in msgs]))
        sessions += 1
    for m in server_msgs:
        seed_message(m)
    for (client, direction), segments in tcp_streams.items():
        ordered = [segments[s] for s in sorted(segments)]
        stream = b''.join(b for _, b in ordered)
        write('stream', stream[:MAX_STREAM_BYTES])
        framed = frames(stream)
        for m in framed:
            seed_message(m)
        if direction == 'c2s':
            framed = framed[:MAX_SCRIPT_RECORDS]
            write('turn', script(framed, 2, [ordered[0][0]] * len(framed)))
            sessions += 1
    print(f'{len(shapes)} STUN shapes, {len(channel_lengths)} ChannelData, {len(tcp_streams)} streams, {sessions} sessions')


if __name__ == '__main__':
    main()
