#!/usr/bin/env python3
"""The kernel's own time for a takeover's address changes, sent as a daemon batching
them would: many RTM_NEWADDR (or RTM_DELADDR) messages per datagram, an ACK asked only
for the last one of each. Prints the milliseconds from the first send to the last answer.

    netlink-batch.py add|del PER_DATAGRAM < LIST

LIST has one "ADDRESS DEVICE" line per IPv4 /32 address. Run it in the namespace of the
devices. A refusal (the address already there, say) is counted and reported on stderr.
"""
import socket
import struct
import sys
import time

RTM_NEWADDR, RTM_DELADDR = 20, 21
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
IFA_ADDRESS, IFA_LOCAL = 1, 2


def message(kind, flags, seq, index, address):
    packed = socket.inet_aton(address)
    body = struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, index)
    body += struct.pack("=HH", 8, IFA_LOCAL) + packed
    body += struct.pack("=HH", 8, IFA_ADDRESS) + packed
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


def main():
    op, per_datagram = sys.argv[1], int(sys.argv[2])
    kind, flags = (RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL) if op == "add" else (RTM_DELADDR, 0)
    indexes = {}
    entries = []
    for line in sys.stdin:
        address, device = line.split()
        if device not in indexes:
            indexes[device] = socket.if_nametoindex(device)
        entries.append((address, indexes[device]))
    datagrams = []
    seq = 0
    for start in range(0, len(entries), per_datagram):
        chunk = entries[start:start + per_datagram]
        parts = []
        for i, (address, index) in enumerate(chunk):
            seq += 1
            ack = NLM_F_ACK if i == len(chunk) - 1 else 0
            parts.append(message(kind, NLM_F_REQUEST | flags | ack, seq, index, address))
        datagrams.append((b"".join(parts), seq))
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((0, 0))
    refused = 0
    began = time.monotonic()
    for datagram, last_seq in datagrams:
        sock.send(datagram)
        answered = False
        while not answered:
            reply = sock.recv(1 << 16)
            offset = 0
            while offset + 20 <= len(reply):
                length, rkind, _, rseq, _ = struct.unpack_from("=IHHII", reply, offset)
                if rkind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", reply, offset + 16)
                    refused += code != 0
                    answered |= rseq == last_seq
                offset += max((length + 3) & ~3, 16)
    elapsed = time.monotonic() - began
    if refused:
        print(f"netlink-batch.py: {refused} of {len(entries)} requests refused", file=sys.stderr)
    print(f"{elapsed * 1000:.1f}")


if __name__ == "__main__":
    main()
