"""Tasks, service logs and docker exec behind the peer's Docker proxy
(shared/protocols.md section 4), for wharf's Swarm service logs and terminal.

- GET /api/endpoints/{id}/docker/tasks?filters={"service":[…],"desired-state":[…]}:
  one running task per replica, container "c<service id>-<i>" on node "node-1".
- GET .../docker/services/{id}/logs?stdout=1&stderr=1&follow=&tail=: the
  multiplexed stream (8-byte headers; 1 stdout, 2 stderr), chunked; 400 when
  neither stdout nor stderr is asked for; follow waits for new lines.
- POST .../docker/containers/{id}/exec {Cmd,Tty,…} -> 201 {"Id"}; POST
  .../docker/exec/{id}/start with "Upgrade: tcp" -> 101 and the raw stream
  both ways (the command runs in a scratch directory, with Tty its stdin is
  a pty: ../exec_tty.py; the connection closes when it exits); GET
  .../docker/exec/{id}/json -> {Running, ExitCode}.
- POST .../docker/exec/{id}/resize?h=rows&w=cols -> 200 (empty body) and the
  pty's window size (`stty size` in the shell shows it); 400 without both
  positive integers or for an exec without Tty, 404 for an unknown exec, 409
  while it does not run. Each call is kept in the exec's "resizes" (query
  and X-PortainerAgent-Target).
Control (not Portainer): POST /peer/logs {service, stream: stdout|stderr, text};
POST /peer/resize {"refuse": "message"} makes exec resize answer 500 with it;
GET /peer/execs (authorized like the API) lists the execs with their resizes.
"""
import json
import os
import re
import secrets
import struct
import sys
import tempfile
import threading
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import exec_tty  # noqa: E402

DOCKER = r"^/api/endpoints/(\d+)/docker(?:/v[0-9.]+)?"
TASKS = re.compile(DOCKER + r"/tasks$")
LOGS_PATH = re.compile(DOCKER + r"/services/([^/]+)/logs$")
EXEC_CREATE = re.compile(DOCKER + r"/containers/([^/]+)/exec$")
EXEC_START = re.compile(DOCKER + r"/exec/([^/]+)/start$")
EXEC_JSON = re.compile(DOCKER + r"/exec/([^/]+)/json$")
EXEC_RESIZE = re.compile(DOCKER + r"/exec/([^/]+)/resize$")
LOGS = {}  # service id -> [(stream, bytes)]
CHANGED = threading.Condition()
EXECS = {}  # id -> {container, cmd, tty, running, code, proc, resizes}
RESIZE = {"refuse": ""}  # POST /peer/resize {"refuse": message}: the daemon answers 500
PEER = {}


def bind(services, lock, find):
    PEER.update(services=services, lock=lock, find=find)


def tasks_of(s):
    n = s["Spec"].get("Mode", {}).get("Replicated", {}).get("Replicas", 1)
    return [{"ID": "t%s%d" % (s["ID"][:8], i), "ServiceID": s["ID"], "NodeID": "node-1",
             "DesiredState": "running",
             "Status": {"State": "running",
                        "ContainerStatus": {"ContainerID": "c%s-%d" % (s["ID"], i)}}}
            for i in range(n)]


def containers():
    with PEER["lock"]:
        return {t["Status"]["ContainerStatus"]["ContainerID"]
                for s in PEER["services"].values() for t in tasks_of(s)}


def get(handler):
    """Serves a route of this module (after the peer's auth); False otherwise."""
    url = urlparse(handler.path)
    q = parse_qs(url.query)
    if url.path == "/peer/execs":
        handler.send_json(200, [{"id": k, "container": e["container"], "cmd": e["cmd"],
                                 "tty": e["tty"], "resizes": e["resizes"]}
                                for k, e in EXECS.items()])
        return True
    if TASKS.match(url.path):
        filters = json.loads(q.get("filters", ["{}"])[0])
        with PEER["lock"]:
            wanted = [PEER["find"](ref) for ref in filters.get("service", [])]
            found = [t for s in wanted if s for t in tasks_of(s)]
        handler.send_json(200, found)
        return True
    m = LOGS_PATH.match(url.path)
    if m:
        with PEER["lock"]:
            s = PEER["find"](m.group(2))
        if s is None:
            handler.send_json(404, {"message": "service %s not found" % m.group(2)})
        elif q.get("stdout", ["0"])[0] != "1" and q.get("stderr", ["0"])[0] != "1":
            handler.send_json(400, {"message": "Bad parameters: you must choose at least one stream"})
        else:
            serve_logs(handler, s["ID"], q)
        return True
    m = EXEC_JSON.match(url.path)
    if m:
        e = EXECS.get(m.group(2))
        if e is None:
            handler.send_json(404, {"message": "No such exec instance: %s" % m.group(2)})
        else:
            handler.send_json(200, {"ID": m.group(2), "Running": e["running"],
                                    "ExitCode": e["code"], "ContainerID": e["container"]})
        return True
    return False


def post(handler, raw):
    url = urlparse(handler.path)
    if url.path == "/peer/logs":
        spec = json.loads(raw)
        with PEER["lock"]:
            sid = PEER["find"](spec["service"])["ID"]
        with CHANGED:
            LOGS.setdefault(sid, []).append((2 if spec.get("stream") == "stderr" else 1,
                                             spec["text"].encode()))
            CHANGED.notify_all()
        handler.send_json(200, {})
        return True
    if url.path == "/peer/resize":
        RESIZE.update(json.loads(raw))
        handler.send_json(200, RESIZE)
        return True
    return False


def post_authorized(handler, raw):
    """Docker proxy POST routes of this module; False otherwise."""
    url = urlparse(handler.path)
    m = EXEC_CREATE.match(url.path)
    if m:
        if m.group(2) not in containers():
            handler.send_json(404, {"message": "No such container: %s" % m.group(2)})
            return True
        spec = json.loads(raw or b"{}")
        eid = secrets.token_hex(16)
        EXECS[eid] = {"container": m.group(2), "cmd": spec.get("Cmd", []), "tty": spec.get("Tty"),
                      "running": False, "code": 0, "proc": None, "resizes": []}
        handler.send_json(201, {"Id": eid})
        return True
    m = EXEC_START.match(url.path)
    if m:
        e = EXECS.get(m.group(2))
        if e is None:
            handler.send_json(404, {"message": "No such exec instance: %s" % m.group(2)})
            return True
        serve_exec(handler, e)
        return True
    m = EXEC_RESIZE.match(url.path)
    if m:
        resize_exec(handler, m.group(2), parse_qs(url.query))
        return True
    return False


def resize_exec(handler, eid, q):
    e = EXECS.get(eid)
    if e is None:
        handler.send_json(404, {"message": "No such exec instance: %s" % eid})
        return
    e["resizes"].append({"h": q.get("h", [""])[0], "w": q.get("w", [""])[0],
                         "node": handler.headers.get("X-PortainerAgent-Target", "")})
    try:
        rows, cols = int(q["h"][0]), int(q["w"][0])
    except (KeyError, ValueError):
        handler.send_json(400, {"message": "invalid resize: h and w must be integers"})
        return
    if rows <= 0 or cols <= 0 or rows > 65535 or cols > 65535:
        handler.send_json(400, {"message": "invalid resize: h and w must be from 1 to 65535"})
        return
    if not e["tty"]:
        handler.send_json(400, {"message": "exec %s has no TTY to resize" % eid})
        return
    if RESIZE["refuse"]:
        handler.send_json(500, {"message": RESIZE["refuse"]})
        return
    proc = e["proc"]
    if not e["running"] or proc is None or not proc.resize(cols, rows):
        handler.send_json(409, {"message": "exec %s is not running" % eid})
        return
    handler.send_response(200)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def serve_logs(handler, sid, q):
    follow = q.get("follow", ["0"])[0] in ("1", "true")
    tail = q.get("tail", ["all"])[0]
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.docker.multiplexed-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()

    def frames(items):
        data = b"".join(struct.pack(">BxxxI", stream, len(text)) + text for stream, text in items)
        if data:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            handler.wfile.flush()

    with CHANGED:
        items = list(LOGS.get(sid, []))
    sent = len(items)
    try:
        frames(items[-int(tail):] if tail != "all" and int(tail) > 0 else items)
        while follow:
            with CHANGED:
                CHANGED.wait_for(lambda: len(LOGS.get(sid, [])) > sent, timeout=1)
                items = list(LOGS.get(sid, []))
            frames(items[sent:])
            sent = len(items)
        handler.wfile.write(b"0\r\n\r\n")
    except OSError:
        pass
    handler.close_connection = True


def serve_exec(handler, e):
    if handler.headers.get("Upgrade", "").lower() != "tcp":
        handler.send_json(400, {"message": "this peer only hijacks upgraded connections"})
        return
    handler.send_response(101, "UPGRADED")
    handler.send_header("Content-Type", "application/vnd.docker.raw-stream")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Upgrade", "tcp")
    handler.end_headers()
    handler.wfile.flush()
    handler.close_connection = True
    proc = exec_tty.Exec(e["cmd"], tempfile.mkdtemp(prefix="portainer-peer-exec-"), bool(e["tty"]))
    e["proc"] = proc
    e["running"] = True
    sock = handler.connection

    def pump_in():
        try:
            for data in iter(lambda: sock.recv(4096), b""):
                proc.write(data)
        except (OSError, ValueError):
            pass
        if proc.poll() is None:  # the client hung up
            proc.kill()

    reader = threading.Thread(target=pump_in, daemon=True)
    reader.start()
    for data in iter(lambda: os.read(proc.stdout.fileno(), 4096), b""):
        try:
            sock.sendall(data)
        except OSError:
            break
    e["code"] = proc.wait()
    e["running"] = False
    try:
        sock.shutdown(2)
    except OSError:
        pass
    reader.join(timeout=5)
    proc.release()
