"""An HTTP receiver on loopback for alert deliveries, and the ports tests may use."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Ports of our own on loopback; a port still held by an earlier test is skipped.
PORTS = range(18600, 18700)


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18600-18699")


class Receiver:
    """Answers each POST with the next scripted (status, body); the last one repeats."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[tuple[int, str]] = [(200, "ok")]
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status, text = (
                        receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                    )
                time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def on(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def json(self, path: str) -> list[dict]:
        return [json.loads(r["body"]) for r in self.on(path)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
