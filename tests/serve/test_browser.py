"""The demo page in a real browser: Debian's Chromium, driven by Playwright, with a fake camera
fed from a shared video. Frames advance, people are found and drawn, nothing is logged as an
error, in server mode and in in-browser mode; a screenshot of each is kept in build/."""
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

from manypose.serve.app import create_app  # noqa: E402
from manypose.serve.background import served_in_background  # noqa: E402
from manypose.serve.client import ORT_WEB_ENV, client_files  # noqa: E402

from conftest import shared_path  # noqa: E402
from fake_camera import write_y4m  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "test-screenshots"
# the probe's flags: no sandbox as root, no calls to Google's services on a closed network
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream",
         "--use-fake-ui-for-media-stream"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (apt-get install chromium)")


# where `manypose serve --install-client` put onnxruntime-web for this user, read when the tests
# are collected: the tests' own model caches (conftest) are empty
INSTALLED_CLIENT = client_files()


@pytest.fixture(scope="module")
def server(estimator):
    patch = pytest.MonkeyPatch()
    if INSTALLED_CLIENT:
        patch.setenv(ORT_WEB_ENV, str(INSTALLED_CLIENT))
    with served_in_background(create_app(estimator)) as url:
        yield url, INSTALLED_CLIENT is not None
    patch.undo()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    camera = write_y4m(shared_path("data/videos/one-by-one-person-detection.mp4"),
                       tmp_path_factory.mktemp("camera") / "people.y4m", start=240, frames=60)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=FLAGS + [f"--use-file-for-fake-video-capture={camera}"])
        yield launched
        launched.close()


def overlay_pixels(page) -> int:
    return page.evaluate("""() => {
        const canvas = document.getElementById("overlay");
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let drawn = 0;
        for (let i = 3; i < pixels.length; i += 4) drawn += pixels[i] > 0;
        return drawn;
    }""")


@pytest.mark.parametrize("mode", ["server", "browser"])
def test_the_camera_page_finds_and_draws_people(server, browser, mode):
    url, has_client = server
    if mode == "browser" and not has_client:
        pytest.skip("onnxruntime-web is not installed: manypose serve --install-client")
    page = browser.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{url}/?autostart=1&mode={mode}")
    page.wait_for_function("window.manypose.frames >= 3", timeout=120_000)
    page.wait_for_function("window.manypose.people > 0", timeout=60_000)
    state = page.evaluate("window.manypose")
    drawn = overlay_pixels(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"camera-{mode}.png"))
    frames_before = state["frames"]
    page.wait_for_function(f"window.manypose.frames > {frames_before}", timeout=60_000)
    page.close()
    assert state["mode"] == mode and state["fps"] > 0 and not state["errors"]
    assert drawn > 300, "the skeleton is drawn on canvas#overlay"
    assert {"net", "decode", "draw"} <= set(state["ms"])
    assert not problems


def test_an_uploaded_image_is_drawn_with_its_people(server, browser, dev_images):
    page = browser.new_page()
    page.goto(server[0])
    page.wait_for_function("document.getElementById('model-name').textContent.length > 0")
    page.set_input_files("#image-file", str(dev_images / "000000000139.jpg"))
    page.wait_for_function("document.getElementById('image-status').textContent.includes('people')", timeout=60_000)
    status = page.text_content("#image-status")
    size = page.evaluate("[document.getElementById('image-result').width, document.getElementById('image-result').height]")
    page.close()
    assert status.startswith(("1 people", "2 people")) and size == [640, 426]


def test_in_browser_decoding_finds_the_servers_people(server, browser, estimator, dev_images):
    url, has_client = server
    if not has_client:
        pytest.skip("onnxruntime-web is not installed: manypose serve --install-client")
    page = browser.new_page()
    page.goto(url)
    page.wait_for_function("document.getElementById('model-name').textContent.length > 0")
    image = dev_images / "000000000139.jpg"
    found = page.evaluate("""async (bytes) => {
        const picture = await createImageBitmap(new Blob([new Uint8Array(bytes)], { type: "image/jpeg" }));
        const model = await (await fetch("/api/model")).json();
        const run = await loadInBrowserModel(model.client);
        return (await run(picture, picture.width, picture.height)).people;
    }""", list(image.read_bytes()))
    page.close()
    expected = estimator(image)
    assert len(found) == len(expected) > 0
    for person, keypoints in zip(sorted(found, key=lambda p: -p["score"]), expected.keypoints):
        seen = keypoints[:, 2] > 0.5
        # the browser's resampling differs from OpenCV's: a few pixels on a 640 x 426 photo
        assert np.abs(np.array(person["keypoints"])[seen, :2] - keypoints[seen, :2]).max() < 4
