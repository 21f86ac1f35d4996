"""The web demo's server: one static page, the HTTP API, the webcam WebSocket and video jobs.

Needs the `web` extra (FastAPI, uvicorn, python-multipart). The estimator is shared by every
request (its backends are safe to call from several threads); each WebSocket connection tracks
its own people. Work runs on worker threads, so the event loop keeps answering.
"""
from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from ..data.images import ImageReadError, decode_image_bytes
from ..poses import Poses
from .client import client_files, client_model
from .jobs import VideoJobs

STATIC = Path(__file__).resolve().parent / "static"
MEGABYTE = 1 << 20


@dataclass(frozen=True)
class Limits:
    image_bytes: int = 20 * MEGABYTE
    video_bytes: int = 200 * MEGABYTE


class UploadRefused(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def people_json(poses: Poses, elapsed_ms: dict | None = None) -> dict:
    """The API's answer for one image: people with box, score, keypoints and track id."""
    width, height = poses.image_size
    people = [{"box": person["box"], "score": person["score"], "keypoints": person["keypoints"],
               "track_id": person.get("track_id")} for person in poses.to_dicts()]
    answer = {"people": people, "width": width, "height": height}
    return answer | {"ms": elapsed_ms} if elapsed_ms is not None else answer


def create_app(estimator, limits: Limits = Limits(), work_dir: Path | None = None) -> FastAPI:
    """The demo's application around a loaded estimator."""
    jobs = VideoJobs(estimator, work_dir)

    @asynccontextmanager
    async def lifespan(app):
        yield
        jobs.close()

    app = FastAPI(title="manypose", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.add_exception_handler(UploadRefused, _refused)
    app.middleware("http")(_cross_origin_isolated)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    ort_folder = client_files()
    if ort_folder is not None:
        app.mount("/client/ort", StaticFiles(directory=ort_folder), name="onnxruntime-web")
    _add_pages(app, estimator, ort_folder is not None)
    _add_predict(app, estimator, limits)
    _add_stream(app, estimator)
    _add_videos(app, jobs, limits)
    return app


async def _cross_origin_isolated(request: Request, call_next):
    """Pages served so lets onnxruntime-web run on several threads (SharedArrayBuffer)."""
    response = await call_next(request)
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Embedder-Policy"] = "require-corp"
    return response


def _refused(request: Request, error: UploadRefused) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=error.status)


def _add_pages(app: FastAPI, estimator, has_ort: bool) -> None:
    model = client_model(estimator)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/api/health")
    def health():
        return {"status": "ok", "model": estimator.name, "backend": estimator.backend.name,
                "device": estimator.backend.device}

    @app.get("/api/model")
    def model_description():
        """What the page draws with (the skeleton), and what in-browser mode runs, if it can."""
        in_browser = model is not None and has_ort
        why_not = None if in_browser else ("this model decodes on the server only" if model is None else
                                           "onnxruntime-web is not installed: manypose serve --install-client")
        return {"name": estimator.name, "skeleton": estimator.skeleton.to_dict(),
                "keypoint_threshold": estimator.keypoint_threshold,
                "client": model["settings"] if in_browser else None, "client_unavailable": why_not}

    if model is not None:
        @app.get("/client/model.onnx", include_in_schema=False)
        def model_file():
            return FileResponse(model["onnx"], media_type="application/octet-stream")


def _add_predict(app: FastAPI, estimator, limits: Limits) -> None:
    @app.post("/api/predict")
    async def predict(request: Request):
        """Multipart field `image`: the people in it."""
        data, name = await _upload(request, "image", limits.image_bytes)
        image = _decoded(data, name)
        started = time.perf_counter()
        poses = await run_in_threadpool(estimator, image)
        return people_json(poses, {"total": round((time.perf_counter() - started) * 1e3, 2)}) | {"model": estimator.name}


def _add_stream(app: FastAPI, estimator) -> None:
    tracking = estimator.for_tracking()

    @app.websocket("/ws/stream")
    async def stream(socket: WebSocket):
        """JPEG frames in, tracked people out (JSON), one answer per frame, in order."""
        await socket.accept()
        tracker = tracking.new_tracker()
        started = time.perf_counter()
        try:
            while True:
                data = await socket.receive_bytes()
                answer = await run_in_threadpool(_tracked_frame, tracking, tracker, data, time.perf_counter() - started)
                await socket.send_text(json.dumps(answer))
        except WebSocketDisconnect:
            return


def _tracked_frame(estimator, tracker, data: bytes, timestamp: float) -> dict:
    try:
        image = decode_image_bytes(data, "camera frame")
    except ImageReadError as error:
        return {"error": str(error), "people": []}
    poses, ms = estimator.timed(image)
    tracking = time.perf_counter()
    poses = tracker.update(poses, timestamp, image)
    ms["decode"] += (time.perf_counter() - tracking) * 1e3  # the tracker counts as decoding
    return people_json(poses, {step: round(value, 2) for step, value in ms.items()})


def _add_videos(app: FastAPI, jobs: VideoJobs, limits: Limits) -> None:
    @app.post("/api/video")
    async def start_video(request: Request):
        """Multipart field `video`: a job that writes the annotated video and JSON lines."""
        data, name = await _upload(request, "video", limits.video_bytes)
        return jobs.start(data, name).status()

    @app.get("/api/video/{job_id}")
    def video_status(job_id: str):
        return jobs.get(job_id).status()

    @app.get("/api/video/{job_id}/{output}")
    def video_output(job_id: str, output: str):
        path, media_type = jobs.get(job_id).output(output)
        return FileResponse(path, media_type=media_type, filename=path.name)

    @app.exception_handler(LookupError)
    async def unknown_job(request: Request, error: LookupError):
        return JSONResponse({"error": error.args[0] if error.args else "not found"}, status_code=404)


async def _upload(request: Request, field: str, limit: int) -> tuple[bytes, str]:
    """The bytes and file name of one multipart field, refused beyond `limit`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MEGABYTE:
        raise UploadRefused(f"the upload is {int(declared) / MEGABYTE:.1f} MB; the limit is {limit / MEGABYTE:.0f} MB",
                            status=413)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UploadRefused(f"expected a multipart/form-data upload with a field named {field!r}", status=415)
    form = await request.form()
    upload = form.get(field)
    if upload is None or isinstance(upload, str):
        found = ", ".join(repr(key) for key in form.keys()) or "none"
        raise UploadRefused(f"expected a file in the multipart field {field!r} (fields sent: {found})")
    data = await asyncio.to_thread(upload.file.read, limit + 1)
    if len(data) > limit:
        raise UploadRefused(f"the {field} is too large; the limit is {limit / MEGABYTE:.0f} MB", status=413)
    if not data:
        raise UploadRefused(f"the {field} is empty")
    return data, Path(upload.filename or field).name


def _decoded(data: bytes, name: str):
    try:
        return decode_image_bytes(data, name)
    except ImageReadError as error:
        raise UploadRefused(str(error)) from None
