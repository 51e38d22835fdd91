#!/usr/bin/env python3
"""One wharf node's network link, for cutting it off from the brokers only.

The node runs in its own network namespace (`ip netns exec NS wharf serve
...`), where 127.0.0.1 is its own loopback. This process relays TCP between
that namespace and the host's:

  - the brokers' ports: it listens on 127.0.0.1:<broker port> inside the
    namespace (where the brokers' advertised addresses point) and connects
    to the same port on the host;
  - the node's HTTP port: it listens on 127.0.0.1:<http port> on the host
    and connects to the node inside the namespace, so clients and the other
    nodes reach it at its usual URL.

SIGUSR1 cuts the broker links: bytes already sent and any new connection
are held, never delivered nor refused, as when a switch drops packets
(the node's Kafka client sees timeouts, not resets). SIGUSR2 heals them:
held bytes flow again, as TCP retransmits after a partition heals. HTTP is
never cut. Prints "ready" once every listener is open, and "cut" / "healed"
once a signal took effect (the harness waits for them: a fault that did not
happen must not count).

The signals are blocked in every thread and taken by the main thread with
sigwait(). (A Python handler runs only when the main thread wakes up, and
the kernel may deliver a process signal to any of the relay's hundreds of
threads: a main thread asleep in signal.pause() then never ran it, so a cut
or a heal was sometimes lost - the long chaos run's node that stayed cut off
for good, and the cut that elected no one.)

    nslink.py --netns NS --brokers 9092,9093,9094 --http 8080
Linux only; needs the rights to enter NS (root).
"""
import argparse
import ctypes
import os
import signal
import socket
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


class Namespaces:
    """Creates sockets in the node's namespace or the host's. setns changes
    only the calling thread's namespace; a socket keeps the one it was made in."""

    def __init__(self, name):
        self.host = os.open("/proc/self/ns/net", os.O_RDONLY)
        self.node = os.open("/var/run/netns/" + name, os.O_RDONLY)

    def socket_in_node(self):
        setns(self.node)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            setns(self.host)


class Link:
    def __init__(self):
        self.open = threading.Event()  # set: broker traffic flows
        self.open.set()


def pump(src, dst, gate):
    """src -> dst until either side closes; waits at the gate (if any)
    before delivering each chunk."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if gate is not None:
                gate.open.wait()
            dst.sendall(data)
    except OSError:
        pass
    finally:
        if gate is not None:
            gate.open.wait()  # a close is not delivered while cut either
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listener, connect, gate):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return

        def handle(client=client):
            if gate is not None:
                gate.open.wait()  # a new connection is not answered while cut
            try:
                upstream = connect()
            except OSError:
                client.close()
                return
            threading.Thread(target=pump, args=(client, upstream, gate), daemon=True).start()
            pump(upstream, client, gate)

        threading.Thread(target=handle, daemon=True).start()


def listen(sock, port):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--netns", required=True)
    parser.add_argument("--brokers", required=True, help="comma-separated host ports")
    parser.add_argument("--http", type=int, required=True, help="the node's HTTP port")
    args = parser.parse_args()
    ns = Namespaces(args.netns)
    link = Link()
    # Before any thread starts: they all inherit the mask.
    taken = {signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, taken)

    for port in (int(p) for p in args.brokers.split(",") if p):
        inside = listen(ns.socket_in_node(), port)

        def to_host(port=port):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.settimeout(None)
            return s

        threading.Thread(target=serve, args=(inside, to_host, link), daemon=True).start()

    def to_node():
        s = ns.socket_in_node()
        s.settimeout(10)
        s.connect(("127.0.0.1", args.http))
        s.settimeout(None)
        return s

    outside = listen(socket.socket(socket.AF_INET, socket.SOCK_STREAM), args.http)
    threading.Thread(target=serve, args=(outside, to_node, None), daemon=True).start()
    print("ready", flush=True)
    while True:
        sig = signal.sigwait(taken)
        if sig == signal.SIGUSR1:
            link.open.clear()
            print("cut", flush=True)
        elif sig == signal.SIGUSR2:
            link.open.set()
            print("healed", flush=True)
        else:
            os._exit(0)


if __name__ == "__main__":
    main()
