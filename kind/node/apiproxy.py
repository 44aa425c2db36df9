"""The API server, reachable from inside the real node's network namespace.

The local control plane listens on the host's loopback only. The node's processes (kubelet,
kube-proxy, kube-router) and its pods live in the network namespace ``storekit-node``, whose
loopback is its own. This forwarder opens its listening sockets *inside* that namespace
(``setns`` around ``bind``, then back) and connects to the API server from the host's, so
nothing new listens on any of the host's addresses. TLS passes through untouched.

    python3 kind/node/apiproxy.py --netns /run/netns/storekit-node \\
        --listen 127.0.0.1:6443 --listen 10.250.0.2:6443 --upstream 127.0.0.1:PORT

Standard library only. Run (and stopped) by kind/node.sh.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def listen_in(netns: str, addresses: list[tuple[str, int]]) -> list[socket.socket]:
    """Listening sockets bound inside the network namespace at ``netns`` (this thread returns
    to the host's namespace afterwards; a socket keeps the namespace it was made in)."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(netns, os.O_RDONLY)
    sockets = []
    try:
        _setns(target)
        try:
            for host, port in addresses:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, port))
                s.listen(128)
                sockets.append(s)
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(target)
    return sockets


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def _serve_one(client: socket.socket, upstream: tuple[str, int]) -> None:
    try:
        server = socket.create_connection(upstream, timeout=10)
        server.settimeout(None)
    except OSError as e:
        print(f"[apiproxy] cannot reach the API server at {upstream[0]}:{upstream[1]}: {e}",
              file=sys.stderr, flush=True)
        client.close()
        return
    back = threading.Thread(target=_pump, args=(server, client), daemon=True)
    back.start()
    _pump(client, server)
    back.join()
    client.close()
    server.close()


def _accept_loop(listener: socket.socket, upstream: tuple[str, int]) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_serve_one, args=(client, upstream), daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--netns", required=True, help="the network namespace file (/run/netns/NAME)")
    parser.add_argument("--listen", action="append", required=True, metavar="HOST:PORT",
                        help="an address inside the namespace (repeatable)")
    parser.add_argument("--upstream", required=True, metavar="HOST:PORT", help="the API server, on the host")
    args = parser.parse_args(argv)
    try:
        addresses = [parse_address(a) for a in args.listen]
        upstream = parse_address(args.upstream)
        listeners = listen_in(args.netns, addresses)
    except (ValueError, OSError) as e:
        print(f"[apiproxy] {e}", file=sys.stderr)
        return 1
    print(f"[apiproxy] {', '.join(args.listen)} in {args.netns} -> {args.upstream}", file=sys.stderr, flush=True)
    threads = [threading.Thread(target=_accept_loop, args=(s, upstream), daemon=True) for s in listeners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
