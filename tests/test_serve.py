"""The scoring web app through FastAPI's test client: results, refusals, limits, concurrency."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
from fastapi.testclient import TestClient  # noqa: E402

from mtlaqa.predict import load_model  # noqa: E402
from mtlaqa.web.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def predictor(serve_run):
    return load_model(serve_run.checkpoint, "cpu")


@pytest.fixture
def uploads(tmp_path):
    d = tmp_path / "uploads"
    d.mkdir()
    return d


@pytest.fixture
def client(predictor, uploads):
    app = create_app(predictor, max_upload_mb=1.0, checkpoint_name="tiny", tmp_dir=str(uploads))
    with TestClient(app, base_url="http://localhost") as c:
        yield c


def _post(client, name: str, data: bytes, ctype: str = "video/mp4"):
    return client.post("/api/predict", files={"file": (name, io.BytesIO(data), ctype)})


def _write_video(path, frames: int, size: int = 32, width: int | None = None) -> None:
    """Frame i is flat grey (i * 20) % 255: frames tell their index by their brightness."""
    width = width or size
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height = width, size
        s.pix_fmt = "yuv420p"
        for i in range(frames):
            img = np.full((size, width, 3), (i * 20) % 255, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def test_health_and_page(client):
    h = client.get("/api/health")
    assert h.status_code == 200
    body = h.json()
    assert body["status"] == "ok" and body["checkpoint"] == "tiny"
    assert body["tasks"] == ["score", "attributes", "caption"] and body["num_clips"] == 3
    assert body["max_upload_bytes"] == 1_000_000 and ".mp4" in body["video_types"]
    page = client.get("/")
    assert page.status_code == 200 and 'id="drop"' in page.text and "/static/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "/api/predict" in js.text
    # nothing on the page comes from another host (the machine is offline)
    for asset in (page.text, js.text, client.get("/static/style.css").text):
        assert "http://" not in asset.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in asset
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/predict" in paths and "/api/health" in paths
    assert "multipart/form-data" in paths["/api/predict"]["post"]["requestBody"]["content"]


def test_predict_matches_the_library(client, predictor, serve_run, uploads):
    video = serve_run.videos[0]
    r = _post(client, "my dive.mp4", video.read_bytes())
    assert r.status_code == 200, r.text
    got = r.json()
    want = predictor.predict(video)
    assert got["filename"] == "my dive.mp4"
    assert got["size_bytes"] == video.stat().st_size
    assert got["score"] == pytest.approx(want.score, abs=1e-4)
    assert got["dive_number"] == want.dive_number and got["dive_name"] == want.dive_name
    assert got["caption"] == want.caption
    assert set(got["attributes"]) == {"position", "armstand", "rotation_type", "ss_no", "tw_no"}
    for k, a in got["attributes"].items():
        assert a["label"] == want.attributes[k].label
        assert sum(a["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    assert got["clip_frames"] == want.clip_frames and len(got["clip_frames"]) == 3
    assert got["clip_contributions"] == pytest.approx(want.clip_contributions, abs=1e-4)
    assert len(got["clip_scores"]) == 3
    assert len(got["thumbnails"]) == 3
    for t in got["thumbnails"]:
        assert t.startswith("data:image/jpeg;base64,/9j/")  # base64 of the JPEG magic FF D8 FF
    # the clips lie at different times of the dive, so their middle frames differ
    assert len(set(got["thumbnails"])) > 1
    assert list(uploads.iterdir()) == []  # the temporary folder is gone


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("dive.mp4", b"", 400, "empty"),
        ("dive.mp4", b"this is not a video at all, just text", 415, "not a mp4 video"),
        ("notes.txt", b"hello", 415, "not a video file type"),
        ("noext", b"\x00\x00\x00\x18ftypisom", 415, "not a video file type"),
        # right signature, broken body: FFmpeg's verdict, as one line naming the upload
        (
            "broken.mp4",
            b"\x00\x00\x00\x20ftypisom" + bytes(200),
            422,
            "broken.mp4: cannot read video",
        ),
    ],
)
def test_bad_uploads_are_refused_in_one_line(client, uploads, name, data, status, words):
    r = _post(client, name, data)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and words in detail and "\n" not in detail
    assert str(uploads) not in detail and "upload." not in detail  # no temporary path leaks
    assert list(uploads.iterdir()) == []


def test_too_short_video(client, tmp_path, uploads):
    short = tmp_path / "short.mp4"
    _write_video(short, frames=10)
    r = _post(client, "short.mp4", short.read_bytes())
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("short.mp4: only 10 of the 103 window frames"), detail
    assert list(uploads.iterdir()) == []


def test_end_frame_moves_the_window(client, predictor, serve_run):
    video = serve_run.videos[2]
    r = client.post(
        "/api/predict",
        files={"file": ("d.mp4", io.BytesIO(video.read_bytes()), "video/mp4")},
        data={"end_frame": "80"},
    )
    assert r.status_code == 200, r.text
    want = predictor.predict(video, end_frame=80)
    assert r.json()["clip_frames"] == want.clip_frames
    assert r.json()["clip_frames"] != predictor.predict(video).clip_frames
    assert r.json()["score"] == pytest.approx(want.score, abs=1e-4)
    bad = client.post(
        "/api/predict",
        files={"file": ("d.mp4", io.BytesIO(video.read_bytes()), "video/mp4")},
        data={"end_frame": "0"},
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("end_frame:")


def test_thumbnails_keep_aspect_and_pick_the_middle_frame(tmp_path):
    import base64

    from PIL import Image

    from mtlaqa.web.thumbnails import clip_thumbnails

    path = tmp_path / "wide.mp4"
    _write_video(path, frames=12, size=32, width=64)
    thumbs = clip_thumbnails(path, [[0, 1, 2], [3, 4, 5], [9, 10, 11]], max_side=64)
    assert len(thumbs) == 3
    levels = []
    for t in thumbs:
        img = Image.open(io.BytesIO(base64.b64decode(t.split(",", 1)[1])))
        assert img.size == (64, 32)
        levels.append(float(np.asarray(img).mean()))
    # middle frames 1, 4 and 10 are grey levels 20, 80 and 200 (codec error of a few levels)
    assert levels == pytest.approx([20, 80, 200], abs=12)


def test_unexpected_failure_is_a_json_500(predictor, serve_run, uploads):
    app = create_app(predictor, tmp_dir=str(uploads))

    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch in layer\nsecond line")

    app.state.service.predictor = type("P", (), {"predict": staticmethod(broken)})()
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
        r = _post(c, "d.mp4", serve_run.videos[0].read_bytes())
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error: shape mismatch in layer"}
    assert list(uploads.iterdir()) == []


def test_missing_file_field(client):
    r = client.post("/api/predict", data={"end_frame": "50"})
    assert r.status_code == 422 and r.json()["detail"] == "file: Field required"


def test_oversized_upload_declared_length(client, uploads):
    r = _post(client, "big.mp4", b"\x00\x00\x00\x18ftypisom" + bytes(1_200_000))
    assert r.status_code == 413
    assert "larger than the 1 MB limit" in r.json()["detail"]
    assert list(uploads.iterdir()) == []


def test_oversized_upload_streamed_without_length(client, uploads):
    boundary = "xyzBOUNDARY"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()

    def body():  # a generator: httpx sends it chunked, with no Content-Length
        yield head + b"\x00\x00\x00\x18ftypisom"
        for _ in range(30):
            yield bytes(64 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(
        "/api/predict",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413, r.text
    assert "larger than the 1 MB limit" in r.json()["detail"]
    assert list(uploads.iterdir()) == []


def test_limit_allows_a_file_just_under_it(predictor, serve_run, uploads):
    size = serve_run.videos[1].stat().st_size
    app = create_app(predictor, max_upload_mb=(size + 10) / 1e6, tmp_dir=str(uploads))
    with TestClient(app, base_url="http://localhost") as c:
        assert _post(c, "d.mp4", serve_run.videos[1].read_bytes()).status_code == 200
    app = create_app(predictor, max_upload_mb=(size - 10) / 1e6, tmp_dir=str(uploads))
    with TestClient(app, base_url="http://localhost") as c:
        assert _post(c, "d.mp4", serve_run.videos[1].read_bytes()).status_code == 413


def test_concurrent_requests_do_not_mix(predictor, serve_run, uploads):
    """Eight requests at once over four videos: each answer is its own video's, and inference
    never runs twice at the same time (the model is shared, loaded once)."""
    app = create_app(predictor, tmp_dir=str(uploads))
    service = app.state.service
    active, peak, guard = 0, 0, threading.Lock()
    real_predict = service.predictor.predict

    def counting_predict(*args, **kwargs):
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        try:
            time.sleep(0.05)  # widen the window in which an unlocked design would overlap
            return real_predict(*args, **kwargs)
        finally:
            with guard:
                active -= 1

    videos = serve_run.videos[:4]
    expected = {f"v{i}.mp4": predictor.predict(v).score for i, v in enumerate(videos)}
    jobs = [(f"v{i % 4}.mp4", videos[i % 4].read_bytes()) for i in range(8)]
    service.predictor = type(
        "P", (), {"predict": staticmethod(counting_predict), "cfg": predictor.cfg}
    )()
    try:
        with TestClient(app, base_url="http://localhost") as c, ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda j: _post(c, *j), jobs))
    finally:
        service.predictor = predictor
    assert len(set(expected.values())) == 4  # the four videos are told apart by score
    for (name, _), r in zip(jobs, results, strict=True):
        assert r.status_code == 200, r.text
        assert r.json()["filename"] == name
        assert r.json()["score"] == pytest.approx(expected[name], abs=1e-4)
    assert peak == 1
    assert list(uploads.iterdir()) == []


def test_serve_command_refuses_a_missing_checkpoint(tmp_path):
    from click.testing import CliRunner

    from mtlaqa.cli import main

    r = CliRunner().invoke(main, ["serve", str(tmp_path / "nope.pt"), "--port", "0"])
    assert r.exit_code == 2
    assert "nope.pt: checkpoint not found" in r.output and "Traceback" not in r.output


def test_serve_command_serves_on_loopback(serve_run):
    """The real command: starts, answers /api/health on 127.0.0.1 (the default host), stops."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [
        sys.executable,
        "-m",
        "mtlaqa.cli",
        "serve",
        str(serve_run.checkpoint),
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline, health = time.monotonic() + 90, None
        while health is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    health = json.load(r)
            except OSError:
                time.sleep(0.3)
        assert health is not None, "server did not answer"
        assert health["status"] == "ok" and health["checkpoint"] == "last.pt"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert f"http://127.0.0.1:{port}/" in out
    assert "warning" not in out.lower()  # loopback: no exposure warning


def test_loopback_detection():
    from mtlaqa.commands.serve import _is_loopback

    assert _is_loopback("127.0.0.1") and _is_loopback("localhost") and _is_loopback("::1")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("192.168.1.10")
