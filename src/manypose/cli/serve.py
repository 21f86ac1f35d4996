"""`manypose serve`: the web demo."""
from __future__ import annotations

import sys

from .options import add_model_options, estimator_from_args, positive_int

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add(commands) -> None:
    p = commands.add_parser(
        "serve", help="a web demo: webcam, image and video upload, HTTP API",
        description="Serve a web page (offline, no CDN) that shows the model on the webcam, through the server "
                    "(frames over a WebSocket, tracked) or in the browser (onnxruntime-web, no frame leaves the "
                    "machine), on uploaded images and videos, and an HTTP API: POST /api/predict (multipart field "
                    "'image') -> JSON people, GET /api/health. Needs the web extra: pip install 'manypose[web]'.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=positive_int, default=8000, help="port (default 8000)")
    p.add_argument("--max-image-mb", type=positive_int, default=20, metavar="MB", help="largest image upload (default 20)")
    p.add_argument("--max-video-mb", type=positive_int, default=200, metavar="MB", help="largest video upload (default 200)")
    p.add_argument("--install-client", action="store_true",
                   help="install onnxruntime-web for the in-browser mode from the npm registry into the cache (needs "
                        "npm, once; the page then works offline), and exit")
    add_model_options(p, default_threshold=None)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..optional import require

    require("fastapi", "manypose serve")
    require("uvicorn", "manypose serve")
    import uvicorn

    from ..serve.app import MEGABYTE, Limits, create_app
    from ..serve.client import install_client

    if args.install_client:
        print(f"onnxruntime-web installed in {install_client()}", file=sys.stderr)
        return 0
    if args.host not in LOOPBACK:
        print(f"manypose serve: listening on {args.host}: anyone who reaches this machine can use the demo",
              file=sys.stderr)
    limits = Limits(args.max_image_mb * MEGABYTE, args.max_video_mb * MEGABYTE)
    app = create_app(estimator_from_args(args), limits)
    print(f"manypose serve: open http://{args.host}:{args.port}/", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
