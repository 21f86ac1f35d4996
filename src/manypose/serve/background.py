"""The demo served from a thread of this process (tests, benchmarks, notebooks)."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager


@contextmanager
def served_in_background(app, host: str = "127.0.0.1", port: int = 0, start_timeout_s: float = 60.0):
    """Serve `app` on a free port (port 0) from a thread; yields the base URL, stops on exit."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="manypose-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the demo server did not start on {host}:{port}")
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
