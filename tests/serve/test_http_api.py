"""The demo's HTTP API and WebSocket, through FastAPI's test client: answers as documented, and
errors as JSON with a message and a 4xx status."""
import json
import time

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx2")
from fastapi.testclient import TestClient  # noqa: E402

import manypose  # noqa: E402
from manypose.serve.app import Limits, create_app  # noqa: E402
from manypose.serve.client import ORT_WEB_FILES  # noqa: E402

from conftest import shared_path  # noqa: E402

VIDEO = "data/videos/one-by-one-person-detection.mp4"


@pytest.fixture(scope="module")
def client(estimator, tmp_path_factory):
    app = create_app(estimator, Limits(image_bytes=2 << 20, video_bytes=8 << 20), tmp_path_factory.mktemp("serve"))
    with TestClient(app) as running:
        yield running


@pytest.fixture(scope="module")
def person_jpeg(dev_images):
    return (dev_images / "000000000139.jpg").read_bytes()


def video_frames(start=240, count=12):
    capture = cv2.VideoCapture(str(shared_path(VIDEO)))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = [capture.read()[1] for _ in range(count)]
    capture.release()
    return frames


def test_health_names_the_model(client):
    assert client.get("/api/health").json() == {"status": "ok", "model": "yolo11n-pose", "backend": "onnxruntime",
                                               "device": "cpu"}


def test_predict_answers_the_people_the_estimator_finds(client, estimator, person_jpeg, dev_images):
    answer = client.post("/api/predict", files={"image": ("photo.jpg", person_jpeg, "image/jpeg")}).json()
    expected = estimator(dev_images / "000000000139.jpg")
    assert (answer["width"], answer["height"], answer["model"]) == (*expected.image_size, "yolo11n-pose")
    assert len(answer["people"]) == len(expected) > 0
    person = answer["people"][0]
    assert set(person) == {"box", "score", "keypoints", "track_id"} and person["track_id"] is None
    assert np.allclose(person["keypoints"], expected.keypoints[0], atol=0.01)
    assert np.allclose(person["box"], expected.boxes[0], atol=0.01)


@pytest.mark.parametrize("files, data, status, message", [
    ({"picture": ("a.jpg", b"\xff\xd8", "image/jpeg")}, None, 400, "field 'image' (fields sent: 'picture')"),
    ({"image": ("notes.txt", b"hello", "text/plain")}, None, 400, "notes.txt: not an image"),
    ({"image": ("empty.jpg", b"", "image/jpeg")}, None, 400, "the image is empty"),
    ({"image": ("big.jpg", b"\xff\xd8" + bytes(5 << 20), "image/jpeg")}, None, 413, "the upload is 5.0 MB; the limit is 2 MB"),
    ({"image": ("big.jpg", b"\xff\xd8" + bytes(9 << 18), "image/jpeg")}, None, 413, "too large; the limit is 2 MB"),
    ({"other": ("a.jpg", b"x", "image/jpeg")}, {"image": "text"}, 400, "expected a file in the multipart field 'image'"),
])
def test_bad_uploads_are_json_errors_with_a_4xx_status(client, files, data, status, message):
    response = client.post("/api/predict", files=files, data=data)
    assert response.status_code == status and message in response.json()["error"]


def test_a_body_that_is_not_multipart_is_refused(client):
    response = client.post("/api/predict", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 415 and "multipart/form-data" in response.json()["error"]


def test_the_webcam_socket_tracks_people_and_survives_a_bad_frame(client):
    ids = []
    with client.websocket_connect("/ws/stream") as socket:
        for number, frame in enumerate(video_frames()):
            socket.send_bytes(cv2.imencode(".jpg", frame)[1].tobytes())
            answer = json.loads(socket.receive_text())
            assert set(answer["ms"]) == {"prepare", "net", "decode"}
            ids.append([person["track_id"] for person in answer["people"]])
            if number == 5:
                socket.send_bytes(b"not a jpeg")
                assert "not an image" in json.loads(socket.receive_text())["error"]
    tracked = [frame for frame in ids if frame]
    assert len(tracked) >= 8 and all(frame == tracked[0] for frame in tracked) and tracked[0][0] is not None


def write_clip(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path.read_bytes()


def wait_for(client, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/video/{job_id}").json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {status}")


def test_a_video_upload_gives_a_browser_playable_video_and_json_lines(client, tmp_path):
    av = pytest.importorskip("av")
    clip = write_clip(tmp_path / "clip.mp4", video_frames(count=8))
    started = client.post("/api/video", files={"video": ("clip.mp4", clip, "video/mp4")}).json()
    assert started["state"] in ("queued", "running") and started["video"] is None
    status = wait_for(client, started["id"])
    assert status["state"] == "done" and status["frames"] == 8 and status["progress"] == 1.0
    video = client.get(status["video"])
    (tmp_path / "out.mp4").write_bytes(video.content)
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == 8
    lines = client.get(status["jsonl"]).text.splitlines()
    assert len(lines) == 8 and any(json.loads(line)["poses"] for line in lines)


def test_a_video_that_cannot_be_read_fails_with_a_message_and_unknown_jobs_are_404(client):
    started = client.post("/api/video", files={"video": ("clip.mp4", b"not a video at all", "video/mp4")}).json()
    status = wait_for(client, started["id"])
    assert status["state"] == "failed" and status["error"] and "/tmp" not in status["error"]
    assert client.get(f"/api/video/{started['id']}/video").status_code == 404
    missing = client.get("/api/video/nothing")
    assert missing.status_code == 404 and "no video job 'nothing'" in missing.json()["error"]


def test_in_browser_mode_is_offered_only_with_onnxruntime_web_and_a_model_it_decodes(estimator, tmp_path, monkeypatch):
    monkeypatch.setenv("MANYPOSE_ORT_WEB", str(tmp_path))
    without = TestClient(create_app(estimator)).get("/api/model").json()
    assert without["client"] is None and "manypose serve --install-client" in without["client_unavailable"]
    for name in ORT_WEB_FILES:
        (tmp_path / name).write_bytes(b"")
    with TestClient(create_app(estimator)) as client:
        described = client.get("/api/model").json()
        assert described["client"]["size"] == 640 and described["skeleton"]["name"] == "coco17"
        assert client.get("/client/model.onnx").content[:2] == b"\x08\x08"  # ONNX's protobuf: ir_version first
        assert client.get("/").headers["cross-origin-embedder-policy"] == "require-corp"
    int8 = manypose.load(int8=True)
    assert TestClient(create_app(int8)).get("/api/model").json()["client"] is None
