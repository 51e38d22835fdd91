#!/usr/bin/env python3
"""Starts and stops a real Kubernetes control plane for one test (or one test
binary): etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
kwok (a simulated node and its pods), all on 127.0.0.1 ports of its own, with
its state in --dir. The binaries come from ./fetch (the peer cache).

  cluster.py start --dir DIR [--owner PID] [--apiserver-arg=--flag=value ...]
                                             prints one JSON line (also DIR/cluster.json):
      {"url", "ca_file", "etcd_url", "admin_token", "token", "outsider_token", "log_file",
       "kubeconfig", "admin_kubeconfig", "node", "server_version", "dir"}
  cluster.py stop --dir DIR                  stops it by PID, in waves

`token` is the limited test token: RBAC (a RoleBinding in namespace
"default") lets it do what wharf needs with deployments, replicasets, pods,
pods/log, pods/exec, services and ingresses, and nothing else (no */proxy:
those would make the apiserver connect to fake pod IPs). `outsider_token`
authenticates but has no rights (403); `reader_token` may read deployments,
pods and pod logs but not exec. With --owner, a watchdog stops the
cluster when that process is gone (a test binary that crashed).
Pod logs: lines appended to `log_file` in CRI format
("<RFC3339Nano> stdout F <text>") are every container's log (followed).
Exec runs the command on this machine, as nobody (65534) when run as root.
Pods of a deploy of version "crashloop" (pod annotation wharf.dev/version)
never become ready; a running pod labelled wharf.test/not-ready=true turns
NotReady (a readiness flip). DIR/audit.log records every write to deployments,
services and ingresses and every pods/exec (tests count wharf's calls).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
COMPONENTS = ["kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]
# Stop order: clients, then the apiserver, then etcd (signalling all at once
# made clients hang). The watchdog goes first.
WAVES = [["watchdog"], ["kwok", "kube-scheduler", "kube-controller-manager"],
         ["kube-apiserver"], ["etcd"]]
NODE = "kwok-node-0"
STAGES = ["node/fast/node-initialize.yaml",
          "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
          "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml",
          "pod/chaos/pod-container-running-failed.yaml"]
# The audit log (DIR/audit.log, JSON lines) records who changed what: tests
# count wharf's writes from it.
AUDIT_POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                "omitStages": ["RequestReceived"],
                "rules": [{"level": "Metadata",
                           "verbs": ["create", "update", "patch", "delete"],
                           "resources": [{"group": "apps", "resources": ["deployments"]},
                                         {"group": "", "resources": ["services"]},
                                         {"group": "networking.k8s.io",
                                          "resources": ["ingresses"]}]},
                          {"level": "Metadata", "resources": [{"group": "",
                                                               "resources": ["pods/exec"]}]},
                          {"level": "None"}]}
# A readiness flip (what a failing readiness probe does): a running, ready pod
# labelled wharf.test/not-ready=true turns NotReady and stays Running.
NOT_READY_STAGE = """apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: wharf-test-pod-not-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.labels["wharf.test/not-ready"]'
      operator: 'In'
      values:
      - 'true'
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'In'
      values:
      - 'True'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        type: ContainersReady
"""
# Prepended to the pod-ready stage's selector.
NEVER_READY = """    - key: '.metadata.annotations["wharf.dev/version"]'
      operator: 'NotIn'
      values:
      - 'crashloop'
"""


def versions():
    v = {}
    with open(os.path.join(HERE, "versions")) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if "=" in line:
                k, val = line.split("=", 1)
                v[k.strip()] = val.strip()
    return v


def install_dir():
    v = versions()
    cache = os.environ.get("WHARF_PEER_CACHE") or os.path.expanduser("~/.cache/wharf-peers")
    return os.path.join(cache, "kubernetes-real", "%s-%s" % (v["K8S"], v["KWOK"]))


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def make_certs(d):
    def key(name):
        run(["openssl", "genrsa", "-out", os.path.join(d, name), "2048"])
    key("ca.key")
    run(["openssl", "req", "-x509", "-new", "-key", os.path.join(d, "ca.key"), "-days", "2",
         "-subj", "/CN=wharf-test-ca", "-out", os.path.join(d, "ca.crt")])
    key("server.key")
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,"
                "DNS:kubernetes.default,DNS:kubernetes.default.svc,"
                "DNS:kubernetes.default.svc.cluster.local\n"
                "extendedKeyUsage=serverAuth,clientAuth\n")
    run(["openssl", "req", "-new", "-key", os.path.join(d, "server.key"), "-subj",
         "/CN=kube-apiserver", "-out", os.path.join(d, "server.csr")])
    run(["openssl", "x509", "-req", "-in", os.path.join(d, "server.csr"), "-CA",
         os.path.join(d, "ca.crt"), "-CAkey", os.path.join(d, "ca.key"), "-CAcreateserial",
         "-days", "2", "-extfile", os.path.join(d, "san.cnf"), "-out",
         os.path.join(d, "server.crt")])
    key("sa.key")
    run(["openssl", "rsa", "-in", os.path.join(d, "sa.key"), "-pubout", "-out",
         os.path.join(d, "sa.pub")])
    make_client_certs(d)


# Client certificates of user "wharf-cert" in group wharf-deployers (the
# apiserver takes CN as the user, O as the groups): one the cluster's CA
# signed, one it signed that expired yesterday, and one from a CA the
# cluster does not know. EC keys (quick to make).
CLIENT_CERTS = {"client": ("ca", 1), "expired": ("ca", -1), "stranger": ("stranger-ca", 1)}


def make_client_certs(d):
    def ec_key(name):
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", os.path.join(d, name)])
    ec_key("stranger-ca.key")
    run(["openssl", "req", "-x509", "-new", "-key", os.path.join(d, "stranger-ca.key"), "-days",
         "2", "-subj", "/CN=stranger-ca", "-out", os.path.join(d, "stranger-ca.crt")])
    with open(os.path.join(d, "client.cnf"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, (ca, days) in CLIENT_CERTS.items():
        ec_key(name + ".key")
        run(["openssl", "req", "-new", "-key", os.path.join(d, name + ".key"), "-subj",
             "/O=wharf-deployers/CN=wharf-cert", "-out", os.path.join(d, name + ".csr")])
        run(["openssl", "x509", "-req", "-in", os.path.join(d, name + ".csr"), "-CA",
             os.path.join(d, ca + ".crt"), "-CAkey", os.path.join(d, ca + ".key"),
             "-CAcreateserial", "-days", str(days), "-extfile", os.path.join(d, "client.cnf"),
             "-out", os.path.join(d, name + ".crt")])


def kubeconfig(path, url, ca, token):
    # JSON is YAML.
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "Config",
                   "clusters": [{"name": "wharf-test", "cluster": {
                       "server": url, "certificate-authority": ca}}],
                   "users": [{"name": "u", "user": {"token": token}}],
                   "contexts": [{"name": "c", "context": {"cluster": "wharf-test", "user": "u"}}],
                   "current-context": "c"}, f)


def kwok_config(path, stage_dir, log_file, exec_dir):
    docs = []
    for s in STAGES:
        with open(os.path.join(stage_dir, s)) as f:
            text = f.read()
        if s == "pod/fast/pod-ready.yaml":
            # The pods of a deploy of version "crashloop" never become ready
            # (what an image that cannot start looks like to a Deployment).
            marker = "    matchExpressions:\n"
            if marker not in text:
                raise RuntimeError("unexpected layout of kwok's " + s)
            text = text.replace(marker, marker + NEVER_READY, 1)
        docs.append(text)
    docs.append(NOT_READY_STAGE)
    docs.append(json.dumps({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs",
                            "metadata": {"name": "wharf-test-logs"},
                            "spec": {"logs": [{"logsFile": log_file, "follow": True}]}}))
    local = {"workDir": exec_dir}
    if os.geteuid() == 0:  # exec runs on this machine: as nobody, not as root
        local["securityContext"] = {"runAsUser": 65534, "runAsGroup": 65534}
    docs.append(json.dumps({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterExec",
                            "metadata": {"name": "wharf-test-exec"},
                            "spec": {"execs": [{"local": local}]}}))
    with open(path, "w") as f:
        f.write("\n---\n".join(docs) + "\n")


class Api:
    def __init__(self, url, ca, token):
        self.url, self.token = url, token
        self.ctx = ssl.create_default_context(cafile=ca)

    def call(self, method, path, body=None, timeout=5):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (OSError, ssl.SSLError):
            return 0, b""


def healthz(port):
    ctx = ssl._create_unverified_context()  # components' self-signed serving certs
    try:
        with urllib.request.urlopen("https://127.0.0.1:%d/healthz" % port, context=ctx,
                                    timeout=2) as r:
            return r.status == 200
    except (OSError, ssl.SSLError, urllib.error.URLError):
        return False


def wait(what, check, timeout, procs):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        for name, p in procs.items():
            if p.poll() is not None:
                raise RuntimeError("%s exited (%s) while waiting for %s" % (name, p.returncode,
                                                                              what))
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def read_pids(d):
    pids = {}
    try:
        with open(os.path.join(d, "pids")) as f:
            for line in f:
                name, pid = line.split()
                pids[name] = int(pid)
    except FileNotFoundError:
        pass
    return pids


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of ours (the watchdog's siblings are not our children) counts as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop(d, known=None):
    pids = dict(known or {})
    pids.update(read_pids(d))
    me = os.getpid()
    for wave in WAVES:
        live = [pids[n] for n in wave if n in pids and pids[n] != me and alive(pids[n])]
        for pid in live:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while live and time.time() < deadline:
            live = [p for p in live if alive(p)]
            time.sleep(0.05)
        for pid in live:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        os.remove(os.path.join(d, "pids"))
    except FileNotFoundError:
        pass


def watchdog(d, owner):
    # Detached: stops the cluster once the owner (a test binary) is gone.
    if os.fork() != 0:
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    with open(os.path.join(d, "pids"), "a") as f:
        f.write("watchdog %d\n" % os.getpid())
    # Remembered as they come: the directory may be gone by the time the owner is.
    known = {}
    while alive(owner) and os.path.exists(os.path.join(d, "pids")):
        known.update(read_pids(d))
        time.sleep(0.5)
    stop(d, known)
    os._exit(0)


def start(d, owner, apiserver_args=()):
    bindir = os.path.join(install_dir(), "bin")
    stage_dir = os.path.join(install_dir(), "stage")
    if not os.path.exists(os.path.join(install_dir(), ".complete")):
        raise RuntimeError("no Kubernetes binaries in %s: run tests/peers/kubernetes-real/fetch"
                           % install_dir())
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o711)  # exec runs as nobody in d/exec
    p_etcd, p_peer, p_api, p_cm, p_sched, p_kwok = free_ports(6)
    url = "https://127.0.0.1:%d" % p_api
    pki = os.path.join(d, "pki")
    os.makedirs(pki, exist_ok=True)
    make_certs(pki)
    ca = os.path.join(pki, "ca.crt")
    tokens = {"admin": os.urandom(16).hex(), "wharf": os.urandom(16).hex(),
              "outsider": os.urandom(16).hex(), "reader": os.urandom(16).hex()}
    with open(os.path.join(pki, "tokens.csv"), "w") as f:
        f.write('%s,admin,uid-admin,"system:masters"\n' % tokens["admin"])
        f.write('%s,wharf,uid-wharf,"wharf-deployers"\n' % tokens["wharf"])
        f.write('%s,outsider,uid-outsider\n' % tokens["outsider"])
        f.write('%s,reader,uid-reader,"wharf-readers"\n' % tokens["reader"])
    admin_kc = os.path.join(d, "admin.kubeconfig")
    wharf_kc = os.path.join(d, "wharf.kubeconfig")
    kubeconfig(admin_kc, url, ca, tokens["admin"])
    kubeconfig(wharf_kc, url, ca, tokens["wharf"])
    log_file = os.path.join(d, "pod.log")
    open(log_file, "a").close()
    os.chmod(log_file, 0o644)
    exec_dir = os.path.join(d, "exec")
    os.makedirs(exec_dir, exist_ok=True)
    os.chmod(exec_dir, 0o755)
    audit_policy = os.path.join(d, "audit-policy.json")
    with open(audit_policy, "w") as f:
        json.dump(AUDIT_POLICY, f)
    kwok_yaml = os.path.join(d, "kwok.yaml")
    kwok_config(kwok_yaml, stage_dir, log_file, exec_dir)

    cmds = {
        "etcd": ["--name=wharf-test", "--data-dir=" + os.path.join(d, "etcd"),
                 "--listen-client-urls=http://127.0.0.1:%d" % p_etcd,
                 "--advertise-client-urls=http://127.0.0.1:%d" % p_etcd,
                 "--listen-peer-urls=http://127.0.0.1:%d" % p_peer,
                 "--initial-advertise-peer-urls=http://127.0.0.1:%d" % p_peer,
                 "--initial-cluster=wharf-test=http://127.0.0.1:%d" % p_peer,
                 "--unsafe-no-fsync=true", "--log-level=warn"],
        "kube-apiserver": [
            "--etcd-servers=http://127.0.0.1:%d" % p_etcd, "--bind-address=127.0.0.1",
            "--secure-port=%d" % p_api, "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",
            "--tls-cert-file=" + os.path.join(pki, "server.crt"),
            "--tls-private-key-file=" + os.path.join(pki, "server.key"),
            "--client-ca-file=" + ca, "--token-auth-file=" + os.path.join(pki, "tokens.csv"),
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=" + os.path.join(pki, "sa.pub"),
            "--service-account-signing-key-file=" + os.path.join(pki, "sa.key"),
            "--service-cluster-ip-range=10.96.0.0/16",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--audit-policy-file=" + audit_policy,
            "--audit-log-path=" + os.path.join(d, "audit.log"), "--v=1"] + list(apiserver_args),
        "kube-controller-manager": [
            "--kubeconfig=" + admin_kc, "--leader-elect=false", "--bind-address=127.0.0.1",
            "--secure-port=%d" % p_cm, "--root-ca-file=" + ca,
            "--service-account-private-key-file=" + os.path.join(pki, "sa.key"),
            "--controllers=*", "--v=1"],
        "kube-scheduler": ["--kubeconfig=" + admin_kc, "--leader-elect=false",
                           "--bind-address=127.0.0.1", "--secure-port=%d" % p_sched, "--v=1"],
        "kwok": ["--kubeconfig=" + admin_kc, "--config=" + kwok_yaml, "--manage-all-nodes=false",
                 "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                 "--node-ip=127.0.0.1", "--node-port=%d" % p_kwok,
                 "--server-address=127.0.0.1:%d" % p_kwok,
                 "--tls-cert-file=" + os.path.join(pki, "server.crt"),
                 "--tls-private-key-file=" + os.path.join(pki, "server.key"),
                 "--cidr=10.244.0.1/24",
                 # kwok renews the node's Lease: the heartbeat-with-lease stage
                 # refreshes the node's status only every ~10 min, so without a
                 # Lease the node lifecycle controller marks the node Unknown
                 # after ~40 s and its pods NotReady (for good: nothing makes a
                 # Running pod ready again).
                 "--node-lease-duration-seconds=40"],
    }
    procs = {}

    def launch(name):
        log = open(os.path.join(d, name + ".log"), "w")
        procs[name] = subprocess.Popen([os.path.join(bindir, name)] + cmds[name],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True, cwd=d)
        with open(os.path.join(d, "pids"), "a") as f:
            f.write("%s %d\n" % (name, procs[name].pid))

    admin = Api(url, ca, tokens["admin"])
    try:
        launch("etcd")
        launch("kube-apiserver")
        wait("the apiserver's /readyz", lambda: admin.call("GET", "/readyz")[0] == 200, 60, procs)
        if owner:
            watchdog(d, owner)
        for name in ["kube-controller-manager", "kube-scheduler", "kwok"]:
            launch(name)
        setup(admin)
        wait("node %s Ready" % NODE, lambda: node_ready(admin), 60, procs)
        wait("serviceaccount default/default",
             lambda: admin.call("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0]
             == 200, 60, procs)
        wait("controller-manager and scheduler /healthz",
             lambda: healthz(p_cm) and healthz(p_sched), 60, procs)
    except Exception:
        stop(d)
        raise
    status, body = admin.call("GET", "/version")
    info = {"url": url, "ca_file": ca, "etcd_url": "http://127.0.0.1:%d" % p_etcd, "admin_token": tokens["admin"], "token": tokens["wharf"],
            "outsider_token": tokens["outsider"], "reader_token": tokens["reader"],
            "log_file": log_file,
            "kubeconfig": wharf_kc, "admin_kubeconfig": admin_kc, "node": NODE,
            "server_version": json.loads(body).get("gitVersion", "") if status == 200 else "",
            "dir": d, "bin_dir": bindir, "audit_log": os.path.join(d, "audit.log")}
    for name in CLIENT_CERTS:
        info[name + "_cert"] = os.path.join(pki, name + ".crt")
        info[name + "_key"] = os.path.join(pki, name + ".key")
    with open(os.path.join(d, "cluster.json"), "w") as f:
        json.dump(info, f)
    return info


def node_ready(api):
    status, body = api.call("GET", "/api/v1/nodes/" + NODE)
    if status != 200:
        return False
    for c in json.loads(body).get("status", {}).get("conditions", []):
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def setup(admin):
    rules = [
        {"apiGroups": ["apps"], "resources": ["deployments"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]},
        {"apiGroups": [""], "resources": ["services"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    ]
    read = [{"apiGroups": ["apps"], "resources": ["deployments", "replicasets"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["pods", "pods/log"],
             "verbs": ["get", "list", "watch"]}]
    objects = [
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
          "metadata": {"name": "wharf-reader"}, "rules": read}),
        ("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
          "metadata": {"name": "wharf-readers", "namespace": "default"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                      "name": "wharf-reader"},
          "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                        "name": "wharf-readers"}]}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
          "metadata": {"name": "wharf-deployer"}, "rules": rules}),
        ("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
          "metadata": {"name": "wharf-deployers", "namespace": "default"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                      "name": "wharf-deployer"},
          "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                        "name": "wharf-deployers"}]}),
        ("/api/v1/nodes",
         {"apiVersion": "v1", "kind": "Node",
          "metadata": {"name": NODE, "annotations": {"kwok.x-k8s.io/node": "fake",
                                                     "node.alpha.kubernetes.io/ttl": "0"},
                       "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
                                  "type": "kwok"}},
          "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
                     "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"}}}),
    ]
    for path, body in objects:
        status, text = admin.call("POST", path, body)
        if status not in (200, 201, 409):
            raise RuntimeError("POST %s: HTTP %d %s" % (path, status, text[:300]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["start", "stop"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--owner", type=int, default=0)
    ap.add_argument("--apiserver-arg", action="append", default=[],
                    help="an extra kube-apiserver flag (repeatable)")
    args = ap.parse_args()
    d = os.path.abspath(args.dir)
    if args.action == "stop":
        stop(d)
        return
    try:
        info = start(d, args.owner, args.apiserver_arg)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        detail = e.stderr.decode(errors="replace") if getattr(e, "stderr", None) else ""
        sys.stderr.write("kubernetes-real: %s %s\n" % (e, detail))
        for name in COMPONENTS:
            log = os.path.join(d, name + ".log")
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    tail = f.read()[-1500:]
                sys.stderr.write("--- %s.log (tail)\n%s\n" % (name, tail))
        sys.exit(1)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
