"""A minimal RFC 6455 server side for the Python test peers: the upgrade
answer and frames over the handler's socket (stdlib only). Client frames
are masked, server frames are not; continuation frames are joined."""
import base64
import hashlib
import struct
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def upgrade(handler, protocol=None):
    """Answers 101 on a BaseHTTPRequestHandler whose request asked to upgrade."""
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(handler.headers["Sec-WebSocket-Key"]))
    if protocol:
        handler.send_header("Sec-WebSocket-Protocol", protocol)
    handler.end_headers()
    handler.wfile.flush()
    return Socket(handler.rfile, handler.wfile)


class Socket:
    def __init__(self, rfile, wfile):
        self.rfile, self.wfile, self.lock = rfile, wfile, threading.Lock()

    def _read(self, n):
        data = b""
        while len(data) < n:
            part = self.rfile.read(n - len(data))
            if not part:
                raise EOFError
            data += part
        return data

    def recv(self):
        """The next message as (opcode, payload); (8, b"") when the peer closed."""
        message, first = b"", None
        while True:
            try:
                b0, b1 = self._read(2)
            except (EOFError, OSError):
                return 8, b""
            opcode, length = b0 & 0x0F, b1 & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else b"\0\0\0\0"
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(self._read(length)))
            if opcode == 9:
                self.send(payload, opcode=10)
                continue
            if opcode == 10:
                continue
            if opcode == 8:
                return 8, payload
            if first is None:
                first = opcode
            message += payload
            if b0 & 0x80:
                return first, message

    def send(self, payload, opcode=2):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([n])
        elif n < 65536:
            header += bytes([126]) + struct.pack(">H", n)
        else:
            header += bytes([127]) + struct.pack(">Q", n)
        with self.lock:
            try:
                self.wfile.write(header + payload)
                self.wfile.flush()
                return True
            except OSError:
                return False

    def close(self, code=1000):
        self.send(struct.pack(">H", code), opcode=8)
