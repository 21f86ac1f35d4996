"""A local HTTP server for fetching tests: files by name, byte ranges, and the failures of real
servers (a connection cut short, a missing file). Never the internet."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    """Serves `files` ({name: bytes}) at http://127.0.0.1:PORT/NAME; `cut_after` ({name: n})
    announces the whole length but ends the connection after n bytes; `requests` records
    (path, Range header) of each request."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.cut_after, self.requests = dict(files), {}, []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append((name, self.headers.get("Range")))
                if name not in server.files:
                    self.send_error(404, "Not Found")
                    return
                self._send(name, server.files[name])

            def _send(self, name: str, body: bytes):
                start = _range_start(self.headers.get("Range"))
                if start is not None and start >= len(body):
                    self.send_error(416, "Range Not Satisfiable")
                    return
                part = body[start or 0:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                cut = server.cut_after.pop(name, None)
                self.wfile.write(part if cut is None else part[:cut])
                if cut is not None:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        return Handler


def _range_start(header):
    if not header or not header.startswith("bytes="):
        return None
    return int(header[len("bytes="):].split("-")[0])
