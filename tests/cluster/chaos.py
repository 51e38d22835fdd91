#!/usr/bin/env python3
"""Jepsen-style chaos run of wharf's cluster mode (docs/cluster.md).

Three Kafka brokers, three `wharf serve --cluster` nodes, one client with a
few writer threads (--writers) and a reader thread. The client creates projects with fixed ids through random nodes (a follower
forwards them to the leader), retries a command whose outcome it did not
learn with the same id and Idempotency-Key, replays
earlier acknowledged commands (which must be refused and write nothing), and
reads each acknowledged project on another node with `min_position`. Faults,
in rounds: leader kill -9; leader SIGSTOP past the session timeout then
SIGCONT (the zombie must be fenced and exit); a broker kill -9; two brokers
kill -9 at once, then restarted (writes must be refused meanwhile, none lost);
the leader cut off from the brokers (its own network namespace, nslink.py)
past the session timeout, then healed. A deposed leader (paused or cut off)
is sent commands of its own ("zombie" project ids) the moment it may act
again: none of them may reach the log, which already holds a newer barrier.

At the end every node is stopped and the checker prints one JSON line:
  lost                acknowledged creates missing from the final log
  duplicates          event ids or project creations present twice
  version_violations  stream versions not dense 1..n in position order
  fenced_writes       acknowledgements whose position holds another event
                      (a deposed leader answering for a write that is not the log's),
                      plus commands sent only to a deposed leader that are in the log
  chain_mismatches    nodes whose log differs from the topic's, or fails `audit verify`
  stale_reads         200 answers at min_position that missed the acknowledged write
  digests_equal       every node's projection digests equal the topic replay's
  failover_p50_ms / failover_p99_ms   fault to the next acknowledged write
  failover_by_fault_ms  per fault: [samples, p50, max]
  election_by_fault_ms  per leader fault: fault to the new leader's barrier in
                      its log, [samples, p50, max] (the failover without the
                      client's time-outs)
  faults              counts of each fault and of what proves it happened;
                      acked_while_two_down must be 0 as well

Usage: chaos.py [--rounds N] [--faults K1,K2] [--writers N] [--workdir DIR]
[--keep] [--no-netns]; exit
status 1 when a safety field is non-zero, digests differ, or a planned fault
did not happen. Network namespaces need root; --no-netns drops the
leader_partition fault from the plan.
"""
import argparse
import base64
import json
import os
import queue
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, Kafka3, http, run_wharf  # noqa: E402

PLAN = ["leader_kill9", "leader_sigstop", "broker_kill9", "two_brokers_down", "leader_partition"]


class Client:
    """Issues creates continuously; records what was acknowledged."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.acked = {}          # project id -> (position, url that answered)
        self.unknown = set()     # outcome never learned
        self.replays = 0
        self.replay_writes = 0   # replays that were acknowledged as new writes
        self.stale_reads = 0
        self.reads = 0
        self.ack_times = []      # monotonic time of each ack
        self.errors = {}
        self.stop = threading.Event()
        self.seq = 0
        self.lock = threading.Lock()
        self.to_read = queue.Queue()
        self.threads = []
        # A client gives up on a node that does not answer (paused, cut off)
        # after this long and tries another, as a load balancer's health
        # check would; the retry carries the same Idempotency-Key.
        self.request_timeout = 3

    def live_nodes(self):
        return [n for n in self.cluster.nodes if n.alive()]

    def create(self, pid, tries=40):
        body = {"project_id": pid, "name": pid}
        for _ in range(tries):
            if self.stop.is_set():
                return None
            nodes = self.live_nodes()
            if not nodes:
                time.sleep(0.2)
                continue
            # The same Idempotency-Key on every try: a try whose outcome was
            # not learned (timeout, 504 from a forwarding follower) and landed
            # is answered already_present with its position, never applied twice.
            status, reply, url = self.cluster.command("POST", "/api/v1/projects", body,
                                                      node=random.choice(nodes),
                                                      timeout=self.request_timeout,
                                                      headers={"Idempotency-Key": "create-" + pid})
            if status in (200, 201, 202) and reply and reply.get("position"):
                return reply["position"], url
            if status == 409 or (status == 400 and reply and "exist" in json.dumps(reply)):
                # An earlier try of this very command landed: the log has it.
                return "exists", url
            with self.lock:
                self.errors[status] = self.errors.get(status, 0) + 1
            time.sleep(0.1)
        return None

    def check_read(self, pid, position):
        others = self.live_nodes()
        if not others:
            return
        node = random.choice(others)
        status, reply, _ = http("GET", "%s/api/v1/projects/%s?min_position=%d" %
                                (node.url, pid, position), token=self.cluster.token, timeout=15)
        if status == 0 or status == 503:
            return  # not reached in time, or the node is down: not a stale answer
        with self.lock:
            self.reads += 1
        if status != 200 or not reply or pid not in json.dumps(reply):
            with self.lock:
                self.stale_reads += 1
            print("stale read: %s at min_position %d on %s -> %s %s" %
                  (pid, position, node.name, status, reply), flush=True)

    def next_pid(self):
        with self.lock:
            self.seq += 1
            return "c%05d" % self.seq, self.seq

    def write_loop(self):
        while not self.stop.is_set():
            pid, seq = self.next_pid()
            outcome = self.create(pid)
            if outcome is None:
                with self.lock:
                    self.unknown.add(pid)
                continue
            position, url = outcome
            if position == "exists":
                with self.lock:
                    self.unknown.add(pid)  # acknowledged only indirectly
                continue
            with self.lock:
                self.acked[pid] = (position, url)
                self.ack_times.append(time.monotonic())
            self.to_read.put((pid, position))
            if seq % 7 == 0:
                self.replay()

    def replay(self):
        """Replays an earlier acknowledged command: it must write nothing."""
        with self.lock:
            if not self.acked:
                return
            old = random.choice(list(self.acked))
            self.replays += 1
        status, reply, _ = self.cluster.command(
            "POST", "/api/v1/projects", {"project_id": old, "name": old},
            node=random.choice(self.live_nodes() or self.cluster.nodes), timeout=self.request_timeout)
        if status in (200, 201, 202) and reply and reply.get("position") and \
                not reply.get("already_present"):
            with self.lock:
                self.replay_writes += 1

    def read_loop(self):
        # Reads wait on their own thread: a read held by a paused node must
        # not delay the writes whose acknowledgements time the failover.
        while not self.stop.is_set():
            try:
                pid, position = self.to_read.get(timeout=0.2)
            except queue.Empty:
                continue
            self.check_read(pid, position)

    def start(self, writers):
        self.threads = [threading.Thread(target=self.write_loop, daemon=True)
                        for _ in range(writers)]
        self.threads.append(threading.Thread(target=self.read_loop, daemon=True))
        for t in self.threads:
            t.start()

    def join(self, timeout):
        for t in self.threads:
            t.join(timeout)


class Supervisor:
    """Restarts a node that exited, as systemd or Kubernetes would: a node
    that stops leading (revoked, fenced, paused) exits on purpose."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.held = set()     # nodes a fault keeps down for now
        self.restarts = {}    # node -> exit codes seen
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.stop.wait(0.5):
            with self.lock:
                for n in self.cluster.nodes:
                    if n.name in self.held or n.proc is None or n.alive():
                        continue
                    self.restarts.setdefault(n.name, []).append(n.proc.returncode)
                    n.start()

    def hold(self, node):
        with self.lock:
            self.held.add(node.name)

    def release(self, node):
        with self.lock:
            self.held.discard(node.name)
            if not node.alive():
                node.start()


class ZombieProbe:
    """Commands sent straight to a deposed leader, neither forwarded by it
    nor redirects followed.
    Each uses a project id no other command uses, so its presence in the
    final log can only mean the deposed leader wrote after its successor's
    barrier."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.sent = {}    # project id -> (status, position or None)
        self.lock = threading.Lock()
        self.seq = 0
        self.threads = []

    def fire(self, node, count, timeout):
        for _ in range(count):
            with self.lock:
                self.seq += 1
                pid = "zombie%04d" % self.seq
                self.sent[pid] = (None, None)

            def one(pid=pid):
                # Marked as forwarded already: a node that no longer leads
                # answers 503 instead of forwarding it to its successor.
                status, reply, _ = http("POST", node.url + "/api/v1/projects",
                                        {"project_id": pid, "name": pid}, self.cluster.token,
                                        timeout=timeout,
                                        headers={"X-Wharf-Forwarded-By": "chaos-zombie-probe"})
                with self.lock:
                    self.sent[pid] = (status, reply.get("position") if reply else None)

            t = threading.Thread(target=one, daemon=True)
            t.start()
            self.threads.append(t)

    def join(self):
        for t in self.threads:
            t.join(120)


def acks_between(client, t0, t1):
    with client.lock:
        return sum(1 for a in client.ack_times if t0 < a < t1)


def next_ack_after(client, t):
    with client.lock:
        later = [a for a in client.ack_times if a > t]
    return min(later) if later else None


def wait_ack_after(client, t, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        a = next_ack_after(client, t)
        if a is not None:
            return a
        time.sleep(0.05)
    return None


def count_in_logs(cluster, pattern):
    total = 0
    for n in cluster.nodes:
        try:
            total += len(re.findall(pattern, open(n.log, errors="replace").read()))
        except OSError:
            pass
    return total


def elections(cluster, leader_faults):
    """Per leader fault: [samples, p50, max] of the time from the fault to
    the next "leads (epoch" line in any node's log - the election alone,
    without a client's time-outs and retries."""
    barriers = []
    stamp = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\].*leads \(epoch")
    for n in cluster.nodes:
        try:
            for line in open(n.log, errors="replace"):
                m = stamp.match(line)
                if m:
                    day, frac = m.group(1).split(".")
                    barriers.append(time.mktime(time.strptime(day, "%Y-%m-%d %H:%M:%S")) +
                                    float("0." + frac))
        except OSError:
            pass
    by_fault = {}
    for fault, t0 in leader_faults:
        later = [b for b in barriers if b > t0]
        if later:
            by_fault.setdefault(fault, []).append((min(later) - t0) * 1000)
    return {f: [len(v), round(percentile(v, 50)), round(max(v))] for f, v in by_fault.items()}


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def run(rounds, workdir, netns, state, kinds=PLAN, writers=4, session_timeout_ms=0):
    kafka = Kafka3(workdir)
    state["kafka"] = kafka
    kafka.start()
    serve_args = ["--cluster-session-timeout-ms", str(session_timeout_ms)] \
        if session_timeout_ms else []
    cluster = Cluster(workdir, kafka, netns=netns, serve_args=serve_args)
    state["cluster"] = cluster
    cluster.start()
    leader = cluster.wait_leader(timeout=120)
    cluster.token  # written by the first leader
    client = Client(cluster)
    client.start(writers)
    supervisor = Supervisor(cluster)
    state["supervisor"] = supervisor
    threading.Thread(target=supervisor.run, daemon=True).start()
    zombies = ZombieProbe(cluster)
    plan = [f for f in kinds if netns or f != "leader_partition"]
    faults = {f: 0 for f in plan}
    faults.update({"zombie_exited": 0, "elections": 0, "zombie_commands": 0,
                   "acked_while_two_down": 0, "refused_while_two_down": 0,
                   "partitioned_leader_deposed": 0, "partition_no_election": 0})
    failovers_ms = []
    leader_faults = []  # (fault, wall time) of faults that must move leadership
    recoveries_ms = []
    time.sleep(3)
    for r in range(rounds):
        fault = plan[r % len(plan)]
        if wait_ack_after(client, time.monotonic() - 1, timeout=60) is None:
            raise RuntimeError("no acknowledged write before fault %d" % r)
        leader = cluster.wait_leader(timeout=60)
        t0 = time.monotonic()
        if fault in ("leader_kill9", "leader_sigstop", "leader_partition"):
            leader_faults.append((fault, time.time()))
        print("%s round %d: %s (leader %s)" % (time.strftime("%H:%M:%S"), r, fault, leader.name),
              flush=True)
        if fault == "leader_kill9":
            supervisor.hold(leader)
            leader.kill9()
            faults[fault] += 1
            new = cluster.wait_leader(timeout=60, exclude=leader)
            faults["elections"] += int(new is not leader)
            ack = wait_ack_after(client, t0)
            if ack:
                failovers_ms.append((fault, (ack - t0) * 1000))
            supervisor.release(leader)
        elif fault == "leader_sigstop":
            supervisor.hold(leader)
            leader.signal(signal.SIGSTOP)
            faults[fault] += 1
            new = cluster.wait_leader(timeout=60, exclude=leader)
            faults["elections"] += int(new is not leader)
            ack = wait_ack_after(client, t0)
            if ack:
                failovers_ms.append((fault, (ack - t0) * 1000))
            time.sleep(2)
            leader.signal(signal.SIGCONT)
            zombies.fire(leader, 3, timeout=30)
            faults["zombie_commands"] += 3
            # The zombie learns it was replaced (revoked or fenced) and exits.
            deadline = time.time() + 60
            while leader.alive() and time.time() < deadline:
                time.sleep(0.2)
            if not leader.alive():
                faults["zombie_exited"] += 1
                print("zombie %s exited %s after SIGCONT" % (leader.name, leader.proc.returncode))
            else:
                print("zombie %s still running after SIGCONT: %s" % (leader.name, leader.readyz()))
                leader.kill9()
            supervisor.release(leader)
        elif fault == "broker_kill9":
            victim = random.choice([1, 2, 3])
            kafka.kill(victim)
            faults[fault] += 1
            time.sleep(8)
            ack = wait_ack_after(client, t0)
            if ack:
                failovers_ms.append((fault, (ack - t0) * 1000))
            kafka.start(victim)
        elif fault == "two_brokers_down":
            victims = random.sample([1, 2, 3], 2)
            with client.lock:
                errors_before = sum(client.errors.values())
            for v in victims:
                kafka.kill(v)
            faults[fault] += 1
            time.sleep(15)
            # A commit that completed just before the kill may be answered
            # just after it: one second of grace.
            faults["acked_while_two_down"] += acks_between(client, t0 + 1, time.monotonic())
            with client.lock:
                faults["refused_while_two_down"] += sum(client.errors.values()) - errors_before
            healed = time.monotonic()
            for v in victims:
                kafka.start(v)
            ack = wait_ack_after(client, healed, timeout=120)
            if ack:
                recoveries_ms.append((ack - healed) * 1000)
            else:
                print("no acknowledged write within 120 s of healing two brokers", flush=True)
        else:  # leader_partition
            leader.cut()
            faults[fault] += 1
            zombies.fire(leader, 3, timeout=60)  # answered, if ever, after the heal
            faults["zombie_commands"] += 3
            try:
                cluster.wait_leader(timeout=60, exclude=leader)
                faults["elections"] += 1
                ack = wait_ack_after(client, t0)
                if ack:
                    failovers_ms.append((fault, (ack - t0) * 1000))
            except RuntimeError as e:
                # Availability, not safety: recorded, healed, and the run goes on.
                faults["partition_no_election"] += 1
                print("no new leader within 60 s of cutting %s off: %s" % (leader.name, e),
                      flush=True)
            time.sleep(2)
            leader.heal()
            # Healed, the old leader finds itself fenced or revoked: it exits
            # (the supervisor restarts it) or follows.
            deadline = time.time() + 90
            while time.time() < deadline and leader.alive() and leader.role() == "leader":
                time.sleep(0.2)
            if leader.alive() and leader.role() == "leader":
                print("partitioned leader %s still leads 90 s after the heal: %s" %
                      (leader.name, leader.readyz()), flush=True)
            else:
                faults["partitioned_leader_deposed"] += 1
        time.sleep(3)
    time.sleep(3)
    client.stop.set()
    client.join(120)
    zombies.join()
    time.sleep(1)
    supervisor.stop.set()
    # A deposed node may still be on its way out (its HTTP drained, its
    # process not yet gone): let it exit before the dead ones are started,
    # or it would be compared with a log it stopped applying.
    deadline = time.time() + 30
    while time.time() < deadline and \
            any(n.alive() and n.role() in ("down", "stopped") for n in cluster.nodes):
        time.sleep(0.3)
    for n in cluster.nodes:
        if not n.alive():
            n.start()
    cluster.wait_leader(timeout=60)
    heads = cluster.wait_caught_up(timeout=90, every_node=True)
    faults["fencing_errors_logged"] = count_in_logs(cluster, r"fenced|FENCED")
    faults["barriers_logged"] = count_in_logs(cluster, r"leads \(epoch")
    faults["node_exits_restarted"] = sum(len(v) for v in supervisor.restarts.values())
    if recoveries_ms:
        faults["two_down_recovery_max_ms"] = round(max(recoveries_ms))
    cluster.stop()
    result = check(cluster, kafka, client, zombies, faults, failovers_ms, heads)
    result["election_by_fault_ms"] = elections(cluster, leader_faults)
    return result


def node_log(node):
    """The node's whole log (its stopped store) via `wharf events tail`."""
    code, out, err = run_wharf("events", "tail", "--data", node.data)
    if code != 0:
        raise RuntimeError("events tail of %s: %s" % (node.name, err))
    log = []
    for line in out.splitlines():
        if not line.strip().startswith("{"):
            continue
        e = json.loads(line)
        log.append({"position": int(e.get("position", 0)), "stream": e.get("streamId"),
                    "stream_version": int(e.get("streamVersion", 0)),
                    "event_id": e.get("eventId"), "type": e.get("type"), "hash": e.get("hash"),
                    "project_id": e.get("payload", {}).get("projectCreated", {}).get("projectId"),
                    "epoch": e.get("payload", {}).get("leaderChanged", {}).get("epoch")})
    return log


def check(cluster, kafka, client, zombies, faults, failovers_ms, heads):
    result = {"lost": 0, "duplicates": 0, "version_violations": 0, "fenced_writes": 0,
              "chain_mismatches": 0, "stale_reads": client.stale_reads, "digests_equal": False}
    logs = {}
    for n in cluster.nodes:
        code, out, err = run_wharf("audit", "verify", "--data", n.data)
        if code != 0:
            result["chain_mismatches"] += 1
            print("audit verify %s failed: %s %s" % (n.name, out, err))
        logs[n.name] = node_log(n)
    reference = logs[cluster.nodes[0].name]
    ref_hashes = [(e["position"], e["hash"]) for e in reference]
    for name, log in logs.items():
        if [(e["position"], e["hash"]) for e in log] != ref_hashes:
            result["chain_mismatches"] += 1
            print("node %s log differs from n1's" % name)
    # Kafka's own copy: the topic replayed with nothing but the brokers.
    kafka.start()  # every broker up for the replay
    code, out, err = run_wharf("audit", "replay-kafka", "--brokers", kafka.bootstrap,
                               "--topic", cluster.topic)
    if code != 0:
        result["chain_mismatches"] += 1
        print("replay-kafka failed: %s %s" % (out, err))
    topic_digests = sorted(l for l in out.splitlines() if re.match(r"^\s+\S+ [0-9a-f]{64}$", l))
    topic_head = re.search(r"head position (\d+) hash ([0-9a-f]{64})", out)
    if reference and topic_head:
        node_head = base64.b64decode(reference[-1]["hash"]).hex()
        if int(topic_head.group(1)) != reference[-1]["position"] or topic_head.group(2) != node_head:
            result["chain_mismatches"] += 1
            print("topic head %s differs from the nodes' %d %s" %
                  (topic_head.groups(), reference[-1]["position"], node_head))
    elif reference:
        result["chain_mismatches"] += 1
        print("replay-kafka printed no head: %s" % out)
    by_id, created, versions = {}, {}, {}
    for e in reference:
        if e["event_id"] in by_id:
            result["duplicates"] += 1
        by_id[e["event_id"]] = e
        if e["type"] == "ProjectCreated":
            pid = e["project_id"]
            if pid in created:
                result["duplicates"] += 1
            created[pid] = e["position"]
        v = versions.get(e["stream"], 0) + 1
        if e["stream_version"] != v:
            result["version_violations"] += 1
        versions[e["stream"]] = e["stream_version"]
    # Barriers: epochs 1, 2, 3, ... in log order (a restarted node that led
    # again must continue the log's epochs, not its own count).
    epochs = [int(e["epoch"]) for e in reference if e["type"] == "LeaderChanged"]
    if epochs != list(range(1, len(epochs) + 1)):
        result["version_violations"] += 1
        print("barrier epochs are not 1..n in log order: %s" % epochs)
    by_position = {e["position"]: e for e in reference}
    for pid, (position, url) in client.acked.items():
        if pid not in created:
            result["lost"] += 1
            print("lost: %s acknowledged at %d by %s" % (pid, position, url))
        elif created[pid] != position:
            at = by_position.get(position)
            result["fenced_writes"] += 1
            print("ack of %s names position %d, which holds %s" %
                  (pid, position, at and at["type"]))
    result["duplicates"] += client.replay_writes
    for pid, (status, position) in zombies.sent.items():
        if pid in created:
            result["fenced_writes"] += 1
            print("a deposed leader wrote %s at position %d (its answer: %s)" %
                  (pid, created[pid], status))
    faults["zombie_acks"] = sum(1 for s, _ in zombies.sent.values() if s in (200, 201, 202))
    digests = {}
    for n in cluster.nodes:
        code, out, err = run_wharf("projections", "digest", "--data", n.data)
        digests[n.name] = sorted(l for l in out.splitlines() if re.search(r"[0-9a-f]{64}", l))
    values = list(digests.values())
    result["digests_equal"] = all(v == values[0] for v in values) and bool(values[0])
    if topic_digests and values[0]:
        node_hashes = sorted(re.findall(r"[0-9a-f]{64}", "\n".join(values[0])))
        topic_hashes = sorted(re.findall(r"[0-9a-f]{64}", "\n".join(topic_digests)))
        if node_hashes != topic_hashes:
            result["digests_equal"] = False
            print("node digests %s differ from the topic replay's %s" % (values[0], topic_digests))
    samples = [ms for _, ms in failovers_ms]
    p50 = percentile(samples, 50)
    p99 = percentile(samples, 99)
    result["failover_p50_ms"] = round(p50) if p50 is not None else None
    result["failover_p99_ms"] = round(p99) if p99 is not None else None
    # Per fault: [samples, p50, max] - a partitioned leader takes longer
    # than a dead one (its open transaction must time out first).
    by_fault = {}
    for fault, ms in failovers_ms:
        by_fault.setdefault(fault, []).append(ms)
    result["failover_by_fault_ms"] = {f: [len(v), round(percentile(v, 50)), round(max(v))]
                                      for f, v in sorted(by_fault.items())}
    faults["acknowledged"] = len(client.acked)
    faults["unknown_outcomes"] = len(client.unknown)
    faults["replays"] = client.replays
    faults["reads"] = client.reads
    faults["head"] = max(heads.values())
    result["faults"] = faults
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=len(PLAN),
                        help="faults, cycling through " + ", ".join(PLAN))
    parser.add_argument("--faults", default=",".join(PLAN),
                        help="comma-separated fault kinds to cycle through (default: all)")
    parser.add_argument("--writers", type=int, default=4,
                        help="client threads issuing commands at once (reads have their own)")
    parser.add_argument("--session-timeout-ms", type=int, default=0,
                        help="the nodes' --cluster-session-timeout-ms (default: serve's)")
    parser.add_argument("--workdir")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--no-netns", action="store_true",
                        help="no network namespaces (not root): no leader_partition fault")
    args = parser.parse_args()
    kinds = [f for f in args.faults.split(",") if f]
    unknown = [f for f in kinds if f not in PLAN]
    if unknown or not kinds:
        parser.error("unknown fault kind(s) %s; known: %s" % (unknown, ", ".join(PLAN)))
    workdir = args.workdir or tempfile.mkdtemp(prefix="wharf-chaos-")
    state = {}
    started = time.monotonic()
    try:
        result = run(args.rounds, workdir, not args.no_netns, state, kinds, args.writers,
                     args.session_timeout_ms)
    finally:
        if "supervisor" in state:
            state["supervisor"].stop.set()
            with state["supervisor"].lock:  # no restart after this
                pass
        if "cluster" in state:
            state["cluster"].teardown()
        Kafka3(workdir).stop()
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    result["duration_s"] = round(time.monotonic() - started)
    print(json.dumps(result), flush=True)
    bad = any(result[k] for k in ("lost", "duplicates", "version_violations", "fenced_writes",
                                  "chain_mismatches", "stale_reads")) or not result["digests_equal"]
    faults = result["faults"]
    planned = [f for f in kinds if not args.no_netns or f != "leader_partition"][:args.rounds]
    missing = [f for f in planned if not faults.get(f)]
    if missing:
        print("faults planned but not injected: %s" % missing, flush=True)
    if faults["acked_while_two_down"]:
        print("writes acknowledged while two of three brokers were down", flush=True)
    if faults.get("leader_sigstop") and faults["zombie_exited"] < faults["leader_sigstop"]:
        print("a paused leader did not exit after SIGCONT", flush=True)
    if faults.get("leader_partition") and \
            faults["partitioned_leader_deposed"] < faults["leader_partition"]:
        print("a partitioned leader kept leading after the heal", flush=True)
    if faults["partition_no_election"]:
        print("no other node led within 60 s of a leader partition", flush=True)
    bad = bad or bool(missing) or faults["acked_while_two_down"] > 0 or \
        faults["partition_no_election"] > 0 or \
        faults["zombie_exited"] < faults.get("leader_sigstop", 0) or \
        faults["partitioned_leader_deposed"] < faults.get("leader_partition", 0)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
