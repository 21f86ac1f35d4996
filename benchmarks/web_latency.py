"""Latency per camera frame in the web demo, both modes side by side in one run: server mode
(JPEG over a WebSocket, network and decoding on the server, answer back) against in-browser
mode (onnxruntime-web wasm in the page). Debian's Chromium with a fake camera fed from a shared
video; the figures are the page's own per-frame timings (window.manypose.history), medians over
the frames after a warm-up. Needs the web extra, playwright, chromium, and onnxruntime-web
(`manypose serve --install-client`, or MANYPOSE_ORT_WEB).

    python benchmarks/web_latency.py [--frames 40]
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from common import SHARED, benchmark_parser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serve"))
from fake_camera import write_y4m  # noqa: E402

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream",
         "--use-fake-ui-for-media-stream"]
WARM_UP_FRAMES = 5


def frame_timings(browser, url: str, mode: str, frames: int) -> list[dict]:
    page = browser.new_page()
    page.goto(f"{url}/?autostart=1&mode={mode}")
    page.wait_for_function(f"window.manypose.frames >= {frames + WARM_UP_FRAMES}", timeout=600_000)
    history = page.evaluate("window.manypose.history")
    page.close()
    return history[WARM_UP_FRAMES:WARM_UP_FRAMES + frames]


def medians(history: list[dict]) -> dict:
    names = sorted({name for frame in history for name in frame})
    return {name: round(statistics.median(frame[name] for frame in history if name in frame), 1) for name in names}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    import manypose
    from manypose.serve.app import create_app
    from manypose.serve.background import served_in_background
    from manypose.serve.client import client_files
    from playwright.sync_api import sync_playwright

    if client_files() is None:
        sys.exit("onnxruntime-web is not installed: manypose serve --install-client (or set MANYPOSE_ORT_WEB)")
    camera = write_y4m(SHARED / "data/videos/one-by-one-person-detection.mp4",
                       Path(tempfile.mkdtemp()) / "camera.y4m", start=240, frames=120)
    figures = {"cpus": os.cpu_count(), "frames": args.frames}
    with served_in_background(create_app(manypose.load())) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium,
                                             args=FLAGS + [f"--use-file-for-fake-video-capture={camera}"])
        for mode in ("server", "browser"):
            figures[mode] = medians(frame_timings(browser, url, mode, args.frames))
        browser.close()
    server, in_browser = figures["server"], figures["browser"]
    print(f"server mode:     {server['frame']:.1f} ms/frame ({1000 / server['frame']:.1f} fps): round trip "
          f"{server['round_trip']:.1f} ms, of which network {server['net']:.1f}, decode {server['decode']:.1f}")
    print(f"in-browser mode: {in_browser['frame']:.1f} ms/frame ({1000 / in_browser['frame']:.1f} fps): network "
          f"{in_browser['net']:.1f} ms (onnxruntime-web wasm), prepare {in_browser['prepare']:.1f}, decode "
          f"{in_browser['decode']:.1f}")
    figures["browser_over_server_frame"] = round(in_browser["frame"] / server["frame"], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
