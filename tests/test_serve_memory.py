"""Issue 19, server memory: concurrent uploads decode one at a time and the heap is trimmed after
each, so what stays held is one request's worth (RSS numbers: the closing note of issue 19)."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

import mtlaqa.web.app as web_app  # noqa: E402
from mtlaqa.predict import load_model  # noqa: E402


def test_uploads_decode_one_at_a_time_and_trim_the_heap(serve_run, tmp_path, monkeypatch):
    predictor = load_model(serve_run.checkpoint, "cpu")
    active, peak, trims, guard = 0, 0, [], threading.Lock()
    real_thumbs = web_app.clip_thumbnails

    def counting_thumbnails(*args, **kwargs):
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        try:
            time.sleep(0.05)  # widen the window in which unbounded decoding would overlap
            return real_thumbs(*args, **kwargs)
        finally:
            with guard:
                active -= 1

    monkeypatch.setattr(web_app, "clip_thumbnails", counting_thumbnails)
    monkeypatch.setattr(web_app, "release_freed_memory", lambda: trims.append(1), raising=False)
    app = web_app.create_app(predictor, tmp_dir=str(tmp_path))
    data = serve_run.videos[0].read_bytes()

    def post(i: int) -> int:
        files = {"file": (f"v{i}.mp4", io.BytesIO(data), "video/mp4")}
        return c.post("/api/predict", files=files).status_code

    with TestClient(app, base_url="http://localhost") as c, ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(post, range(6)))
    assert codes == [200] * 6
    assert peak == 1  # thumbnails decode under the inference lock, never six at once
    assert len(trims) == 6


def test_release_freed_memory_trims_on_glibc():
    import platform

    from mtlaqa.web.memory import release_freed_memory

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is a glibc call")
    assert release_freed_memory() is True
