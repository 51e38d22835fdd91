"""Pods of the peer's Deployments, their logs and exec (shared/protocols.md
section 3), for wharf's Kubernetes service logs and terminal.

- Each Deployment gets spec.selector.matchLabels {"app": name} (attach) and
  `replicas` Running pods "<name>-5f7c9-<i>", annotated with the template's
  current wharf.dev/version; GET /api/v1/namespaces/{ns}/pods?labelSelector=.
- GET .../pods/{pod}/log?container=&follow=&tailLines=: chunked text/plain;
  400 without container= (the pods have two containers) or for an unknown
  one, 404 for an unknown pod; follow waits for new lines.
- GET .../pods/{pod}/exec?command=…&container=&stdin&stdout&tty (WebSocket,
  v5.channel.k8s.io preferred over v4): runs the command in a scratch
  directory (with tty=true its stdin is a pty: ../exec_tty.py); stdin on
  channel 0, output on 1, then the metav1.Status on channel 3 and a close.
  Channel 4 {"Width","Height"} sets the pty's window size (`stty size` in the
  shell shows it); channel 255 (v5) closes its stdin.
Control (not Kubernetes): POST /peer/pods/log {namespace,pod,container,text}
appends log text; POST /peer/rbac {"exec": false} makes exec answer 403;
GET /peer/execs lists the exec sessions (pod, container, command, protocol,
tty, and each channel-4 payload under "resizes", as received).
"""
import json
import re
import struct
import sys
import tempfile
import threading
import os
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import exec_tty  # noqa: E402
import websocket_server  # noqa: E402

PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")
POD = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/(log|exec)$")
LOGS = {}  # (ns, pod, container) -> text
CHANGED = threading.Condition()
EXECS = []
RBAC = {"exec": True}
PEER = {}  # bind(): the peer's deployments, their lock and its Status body


def bind(deployments, lock, status):
    PEER.update(deployments=deployments, lock=lock, status=status)


def status(*a):
    return PEER["status"](*a)


def attach(d):
    """Gives a new Deployment its selector and pod labels."""
    name = d["metadata"]["name"]
    d["spec"]["selector"] = {"matchLabels": {"app": name}}
    d["spec"]["template"]["metadata"]["labels"] = {"app": name}


def pods_of(deployments):
    out = []
    for (ns, name), d in sorted(deployments.items()):
        tmpl = d["spec"]["template"]
        for i in range(d["spec"].get("replicas", 1)):
            out.append({
                "metadata": {"name": "%s-5f7c9-%d" % (name, i), "namespace": ns,
                             "labels": dict(tmpl["metadata"].get("labels", {})),
                             "annotations": dict(tmpl["metadata"].get("annotations", {}))},
                "spec": {"containers": [{"name": c["name"], "image": c.get("image", "")}
                                        for c in tmpl["spec"]["containers"]]},
                "status": {"phase": "Running"},
            })
    return out


def find_pod(ns, name):
    with PEER["lock"]:
        for p in pods_of(PEER["deployments"]):
            if p["metadata"]["namespace"] == ns and p["metadata"]["name"] == name:
                return p
    return None


def get(handler):
    """Serves a pods route; False when the path is not one."""
    url = urlparse(handler.path)
    q = parse_qs(url.query)
    if url.path == "/peer/execs":
        handler.send_json(200, EXECS)
        return True
    m, p = PODS.match(url.path), POD.match(url.path)
    if not m and not p:
        return False
    if not handler.authorized():
        return True
    if m:
        selector = dict(kv.split("=", 1) for kv in q.get("labelSelector", [""])[0].split(",") if kv)
        with PEER["lock"]:
            items = [x for x in pods_of(PEER["deployments"])
                     if x["metadata"]["namespace"] == m.group(1)
                     and all(x["metadata"]["labels"].get(k) == v for k, v in selector.items())]
        handler.send_json(200, {"kind": "PodList", "apiVersion": "v1", "items": items})
        return True
    ns, name, what = p.groups()
    pod = find_pod(ns, name)
    if pod is None:
        handler.send_json(404, status(404, "NotFound", 'pods "%s" not found' % name))
        return True
    names = [c["name"] for c in pod["spec"]["containers"]]
    container = q.get("container", [""])[0]
    if not container:
        handler.send_json(400, status(400, "BadRequest",
                                      "a container name must be specified for pod %s, choose one of: [%s]"
                                      % (name, " ".join(names))))
        return True
    if container not in names:
        handler.send_json(400, status(400, "BadRequest",
                                      "container %s is not valid for pod %s" % (container, name)))
        return True
    if what == "log":
        serve_log(handler, (ns, name, container), q)
    else:
        serve_exec(handler, pod, container, q)
    return True


def post(handler):
    """Serves a pods control route; False when the path is not one."""
    url = urlparse(handler.path)
    if url.path not in ("/peer/pods/log", "/peer/rbac"):
        return False
    raw = handler.body()
    if url.path == "/peer/pods/log":
        spec = json.loads(raw)
        key = (spec.get("namespace", "default"), spec["pod"], spec["container"])
        with CHANGED:
            LOGS[key] = LOGS.get(key, "") + spec["text"]
            CHANGED.notify_all()
        handler.send_json(200, {})
        return True
    RBAC.update(json.loads(raw))
    handler.send_json(200, RBAC)
    return True


def serve_log(handler, key, q):
    follow = q.get("follow", ["false"])[0] == "true"
    tail = int(q.get("tailLines", ["0"])[0] or 0)
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()

    def chunk(data):
        if data:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            handler.wfile.flush()

    with CHANGED:
        text = LOGS.get(key, "")
    lines = text.splitlines(keepends=True)
    sent = len(text)
    try:
        chunk("".join(lines[-tail:] if tail else lines).encode())
        while follow:
            with CHANGED:
                CHANGED.wait_for(lambda: len(LOGS.get(key, "")) > sent, timeout=1)
                text = LOGS.get(key, "")
            chunk(text[sent:].encode())
            sent = len(text)
        handler.wfile.write(b"0\r\n\r\n")
    except OSError:
        pass  # the reader left
    handler.close_connection = True


def serve_exec(handler, pod, container, q):
    if handler.headers.get("Upgrade", "").lower() != "websocket":
        handler.send_json(400, status(400, "BadRequest", "Upgrade request required"))
        return
    if not RBAC["exec"]:
        handler.send_json(403, status(403, "Forbidden",
                                      'pods "%s" is forbidden: User "wharf" cannot create resource '
                                      '"pods/exec"' % pod["metadata"]["name"]))
        return
    offered = [p.strip() for p in handler.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    protocol = next((p for p in ("v5.channel.k8s.io", "v4.channel.k8s.io") if p in offered), None)
    if protocol is None:
        handler.send_json(400, status(400, "BadRequest", "no supported subprotocol"))
        return
    command = q.get("command", [])
    tty = q.get("tty", ["false"])[0]
    session = {"pod": pod["metadata"]["name"], "container": container, "command": command,
               "protocol": protocol, "tty": tty, "resizes": []}
    EXECS.append(session)
    ws = websocket_server.upgrade(handler, protocol)
    handler.close_connection = True
    workdir = tempfile.mkdtemp(prefix="k8s-peer-exec-")
    try:
        proc = exec_tty.Exec(command, workdir, tty == "true")
    except OSError as e:
        ws.send(b"\x03" + json.dumps(status(500, "InternalError", str(e))).encode())
        ws.close()
        return

    def pump_out():
        for data in iter(lambda: os.read(proc.stdout.fileno(), 4096), b""):
            ws.send(b"\x01" + data)
        code = proc.wait()
        if code == 0:
            body = {"metadata": {}, "status": "Success"}
        else:
            body = status(500, "NonZeroExitCode",
                          "command terminated with non-zero exit code: exit status %d" % code)
            body["details"] = {"causes": [{"reason": "ExitCode", "message": str(code)}]}
        ws.send(b"\x03" + json.dumps(body).encode())
        ws.close()

    out = threading.Thread(target=pump_out, daemon=True)
    out.start()
    while True:
        opcode, data = ws.recv()
        if opcode == 8 or not data:
            break
        channel, payload = data[0], data[1:]
        try:
            if channel == 0:
                proc.write(payload)
            elif channel == 4:  # remotecommand.TerminalSize; a bad one is dropped, as the kubelet does
                session["resizes"].append(payload.decode("utf-8", "replace"))
                size = json.loads(payload)
                proc.resize(int(size["Width"]), int(size["Height"]))
            elif channel == 255 and payload[:1] == b"\x00":
                proc.close_stdin()
        except (OSError, ValueError, KeyError, TypeError, struct.error):
            pass
    if proc.poll() is None:  # the client left first: hang up, like a closed exec stream
        proc.kill()
    out.join(timeout=5)
    proc.release()
