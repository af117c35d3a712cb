"""Holder of an empty network namespace: run as a script (``python -S _netns_holder.py``), never imported.

Owns: the process whose network namespace RESTRICTED task commands of one driver enter (see
:mod:`omicsd.executors.netns`). It leaves the host's namespace (``unshare(CLONE_NEWNET)``), brings the new
namespace's loopback up (as bubblewrap does, so tasks may still talk to themselves on 127.0.0.1), prints
``ready`` and then reads its stdin until end of file: it lives exactly as long as the process holding the other
end of that pipe. On failure it prints ``error: <reason>`` and exits 1.

Must not: import omicsd (it runs without ``site`` for a fast start) or do anything but hold the namespace.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import sys

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = "16sH14s"


def main() -> int:
    """Enter a new network namespace, bring loopback up, say ``ready`` and wait for end of input."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        print(f"error: unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}", flush=True)
        return 1
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            current = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0, b""))
            flags = struct.unpack(IFREQ, current)[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP, b""))
    except OSError as exn:
        print(f"error: loopback: {exn}", flush=True)
        return 1
    print("ready", flush=True)
    while sys.stdin.buffer.read(4096):
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
