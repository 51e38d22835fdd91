"""Three Kafka brokers and three `wharf serve --cluster` nodes on one machine,
for the cluster tests and the chaos run (docs/cluster.md).

    kafka = Kafka3(workdir)              # tests/peers/kafka/start-cluster
    cluster = Cluster(workdir, kafka)    # three wharf nodes, one leader
    cluster.start(); leader = cluster.wait_leader()
    status, body, headers = http("POST", leader.url + "/api/v1/projects", {...}, cluster.token)

    Cluster(workdir, kafka, netns=True)  # each node in its own network
                                         # namespace: node.cut() / node.heal()
                                         # its links to the brokers (nslink.py)

Paths: WHARF_BIN (default build/cli/wharf of this tree), WHARF_PEER_CACHE.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEER = os.path.join(ROOT, "tests", "peers", "kafka")


def wharf_bin():
    return os.environ.get("WHARF_BIN", os.path.join(ROOT, "build", "cli", "wharf"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(NoRedirect)


def http(method, url, body=None, token=None, timeout=10.0, headers=None):
    """One request, redirects not followed. Returns (status, json or None,
    headers); status 0 when the node did not answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with _opener.open(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None), dict(resp.headers)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return e.code, parsed, dict(e.headers)
    except (OSError, ValueError):
        return 0, None, {}


class Kafka3:
    """tests/peers/kafka/start-cluster: three KRaft broker+controller JVMs."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "kafka")
        self.env = dict(os.environ, WHARF_KAFKA_OWNER_PID=str(os.getpid()))
        self.bootstrap = None

    def start(self, node=None):
        args = [os.path.join(PEER, "start-cluster"), self.dir] + ([str(node)] if node else [])
        out = subprocess.run(args, env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("kafka start-cluster failed: " + out.stderr + out.stdout)
        self.bootstrap = out.stdout.strip().splitlines()[-1]
        return self.bootstrap

    def kill(self, node):
        subprocess.run([os.path.join(PEER, "stop"), os.path.join(self.dir, "n%d" % node), "--kill"],
                       check=True)

    def stop(self):
        for n in (1, 2, 3):
            subprocess.run([os.path.join(PEER, "stop"), os.path.join(self.dir, "n%d" % n)])


class NetLink:
    """A network namespace for one node and its nslink.py relay (root only)."""

    def __init__(self, name, log):
        self.ns = name
        self.log = log
        self.proc = None

    def up(self, broker_ports, http_port):
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        subprocess.run(["ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up"], check=True)
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "nslink.py"), "--netns", self.ns, "--brokers",
             ",".join(str(p) for p in broker_ports), "--http", str(http_port)],
            stdout=subprocess.PIPE, stderr=logf, stdin=subprocess.DEVNULL, text=True)
        logf.close()
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("nslink for %s did not start; see %s" % (self.ns, self.log))

    def cut(self):
        self._signal(signal.SIGUSR1, "cut")

    def heal(self):
        self._signal(signal.SIGUSR2, "healed")

    def _signal(self, sig, answer):
        """Signals the relay and waits for it to say the change took effect."""
        self.proc.send_signal(sig)
        line = self.proc.stdout.readline().strip()
        if line != answer:
            raise RuntimeError("nslink %s answered %r to %s, not %r" % (self.ns, line, sig, answer))

    def down(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)


class Node:
    def __init__(self, cluster, index):
        self.cluster = cluster
        self.name = "n%d" % index
        self.link = None  # NetLink when the cluster runs nodes in namespaces
        self.data = os.path.join(cluster.workdir, "wharf-" + self.name)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.log = os.path.join(self.data, "serve.log")
        self.starts = 0

    def start(self):
        os.makedirs(self.data, exist_ok=True)
        if self.cluster.netns and self.link is None:
            self.link = NetLink("wharf%d%s" % (os.getpid(), self.name),
                                os.path.join(self.data, "nslink.log"))
            ports = [int(a.rsplit(":", 1)[1]) for a in self.cluster.kafka.bootstrap.split(",")]
            self.link.up(ports, self.port)
        prefix = ["ip", "netns", "exec", self.link.ns] if self.link else []
        args = prefix + [wharf_bin(), "serve", "--data", self.data, "--listen", "127.0.0.1",
                "--port", str(self.port), "--cluster", self.cluster.id,
                "--kafka-brokers", self.cluster.kafka.bootstrap, "--cluster-node", self.name,
                "--first-token-file", self.cluster.token_file, "--ui-dir", "",
                "--canary-router-base-port", "0", "--health-interval", "0"] + self.cluster.serve_args
        logf = open(self.log, "a")
        logf.write("\n==== start %d ====\n" % self.starts)
        logf.flush()
        self.starts += 1
        self.proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()

    def cut(self):
        """Cut this node off from the brokers (HTTP stays up)."""
        self.link.cut()

    def heal(self):
        self.link.heal()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def kill9(self):
        self.signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()

    def stop(self, timeout=30):
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return -9

    def readyz(self, timeout=2.0):
        status, body, _ = http("GET", self.url + "/readyz", timeout=timeout)
        return body.get("cluster", {}) if status in (200, 503) and body else {}

    def role(self):
        return self.readyz().get("role", "down")


class Cluster:
    def __init__(self, workdir, kafka, cluster_id="chaos", netns=False, serve_args=()):
        self.workdir = workdir
        self.serve_args = list(serve_args)  # more `wharf serve` flags for every node
        self.netns = netns
        self.kafka = kafka
        self.id = cluster_id
        self.token_file = os.path.join(workdir, "admin-token")
        self.nodes = [Node(self, i) for i in (1, 2, 3)]
        self._token = None

    @property
    def topic(self):
        return "wharf.%s.events" % self.id

    def start(self):
        for n in self.nodes:
            n.start()

    @property
    def token(self):
        if self._token is None:
            deadline = time.time() + 60
            while not os.path.exists(self.token_file) or not open(self.token_file).read().strip():
                if time.time() > deadline:
                    raise RuntimeError("no first admin token written by the leader")
                time.sleep(0.2)
            self._token = open(self.token_file).read().strip()
        return self._token

    def leaders(self):
        return [n for n in self.nodes if n.alive() and n.role() == "leader"]

    def wait_leader(self, timeout=90, exclude=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [n for n in self.leaders() if n is not exclude]
            if len(found) == 1:
                return found[0]
            time.sleep(0.2)
        raise RuntimeError("no single leader within %ds: %s" % (
            timeout, {n.name: n.readyz() for n in self.nodes}))

    def wait_caught_up(self, timeout=60, every_node=False):
        """Every live node (every node, with every_node) has applied the same head."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if every_node and not all(n.alive() for n in self.nodes):
                raise RuntimeError("a node exited while the nodes were catching up: %s" %
                                   [n.name for n in self.nodes if not n.alive()])
            heads = {n.name: n.readyz().get("applied_position") for n in self.nodes if n.alive()}
            lags = [n.readyz().get("lag", 1) for n in self.nodes if n.alive()]
            if len(set(heads.values())) == 1 and None not in heads.values() and max(lags) == 0:
                return heads
            time.sleep(0.3)
        raise RuntimeError("nodes did not converge: %s" % {n.name: n.readyz() for n in self.nodes})

    def stop(self):
        """Followers first, the leader last: a leader stopped before its
        followers hands the partition to one of them, which then commits a
        barrier the nodes already stopped never see."""
        roles = {n.name: (n.role() if n.alive() else "down") for n in self.nodes}
        for n in sorted(self.nodes, key=lambda n: roles[n.name] == "leader"):
            n.stop()

    def teardown(self):
        """Stops the nodes, their relays and namespaces."""
        for n in self.nodes:
            if n.proc is not None:
                n.stop()
            if n.link:
                n.link.down()
                n.link = None

    def command(self, method, path, body, node=None, hops=3, timeout=15.0, headers=None):
        """A command through `node` (default: any live one), following 307s
        like a client would. Returns (status, body, node that answered)."""
        node = node or next(n for n in self.nodes if n.alive())
        url = node.url + path
        sent = headers
        for _ in range(hops):
            status, reply, headers = http(method, url, body, self.token, timeout=timeout,
                                          headers=sent)
            if status == 307 and headers.get("Location"):
                url = headers["Location"]
                continue
            return status, reply, url
        return status, reply, url


def run_wharf(*args, timeout=300):
    out = subprocess.run([wharf_bin()] + list(args), capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stdout, out.stderr


def node_events(node_data):
    """The node's whole log as [(position, stream, version, event_id, type, hash)]
    from `wharf events export` of its stopped store."""
    out = os.path.join(node_data, "final.export")
    code, _, err = run_wharf("events", "export", "--data", node_data, "--out", out)
    if code != 0:
        raise RuntimeError("export of %s failed: %s" % (node_data, err))
    return out
