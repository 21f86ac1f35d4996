"""Video uploads as jobs: one video runs at a time (the network takes the cores), the others
wait; each writes its annotated video (H.264 with PyAV, which the web extra brings, so browsers
play it) and its JSON lines into a folder of its own, removed when the server stops."""
from __future__ import annotations

import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..video import FrameRange, Outputs, open_source, run_video
from ..video.pipeline import VideoReport

OUTPUTS = {"video": ("annotated.mp4", "video/mp4"), "jsonl": ("poses.jsonl", "application/x-ndjson")}


@dataclass
class VideoJob:
    id: str
    folder: Path
    source: Path
    state: str = "queued"  # queued, running, done, failed
    error: Optional[str] = None
    total_frames: Optional[int] = None
    report: VideoReport = field(default_factory=VideoReport)

    def status(self) -> dict:
        done = self.state == "done"
        progress = 1.0 if done else (min(self.report.frames / self.total_frames, 0.99) if self.total_frames else None)
        return {"id": self.id, "state": self.state, "frames": self.report.frames, "total_frames": self.total_frames,
                "progress": progress, "error": self.error, "track_ids": len(self.report.track_ids),
                **{name: f"/api/video/{self.id}/{name}" if done else None for name in OUTPUTS}}

    def output(self, name: str) -> tuple[Path, str]:
        if name not in OUTPUTS:
            raise LookupError(f"no output {name!r}; there are {', '.join(OUTPUTS)}")
        if self.state != "done":
            raise LookupError(f"job {self.id} is {self.state}, its outputs are not ready")
        file_name, media_type = OUTPUTS[name]
        return self.folder / file_name, media_type


class VideoJobs:
    def __init__(self, estimator, work_dir: Optional[Path] = None):
        self.estimator = estimator
        self.folder = Path(tempfile.mkdtemp(prefix="manypose-serve-", dir=work_dir))
        self.jobs: dict[str, VideoJob] = {}
        self.runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="manypose-video-job")

    def start(self, data: bytes, name: str) -> VideoJob:
        job_id = uuid.uuid4().hex[:16]
        folder = self.folder / job_id
        folder.mkdir()
        source = folder / f"upload{Path(name).suffix.lower() or '.mp4'}"
        source.write_bytes(data)
        job = self.jobs[job_id] = VideoJob(job_id, folder, source)
        self.runner.submit(self._run, job)
        return job

    def get(self, job_id: str) -> VideoJob:
        if job_id not in self.jobs:
            raise LookupError(f"no video job {job_id!r}")
        return self.jobs[job_id]

    def _run(self, job: VideoJob) -> None:
        job.state = "running"
        try:
            source = open_source(job.source)
            job.total_frames = source.frame_count
            outputs = Outputs(*(job.folder / OUTPUTS[name][0] for name in ("video", "jsonl")), source.fps, source.size)
            run_video(self.estimator, source, FrameRange(), outputs=outputs, progress=False,
                      on_error=lambda message: None, report=job.report)
        except (ValueError, OSError, RuntimeError) as error:
            job.state, job.error = "failed", str(error).replace(str(job.source), "the upload")
            return
        readable = job.report.frames - job.report.failed
        job.state, job.error = ("done", None) if readable else ("failed", "no frame of the upload could be read")

    def close(self) -> None:
        self.runner.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.folder, ignore_errors=True)
