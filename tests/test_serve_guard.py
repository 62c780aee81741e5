"""Issue 19, server: Host allow-list (DNS rebinding), same-origin uploads (CSRF), one file part."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from mtlaqa.predict import load_model  # noqa: E402
from mtlaqa.web.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def predictor(serve_run):
    return load_model(serve_run.checkpoint, "cpu")


@pytest.fixture
def app(predictor, tmp_path):
    (tmp_path / "uploads").mkdir()
    return create_app(predictor, tmp_dir=str(tmp_path / "uploads"))


def _post(client, video: bytes, headers: dict | None = None, files=None):  # noqa: ANN001
    files = files or {"file": ("dive.mp4", io.BytesIO(video), "video/mp4")}
    return client.post("/api/predict", files=files, headers=headers or {})


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.nip.io"])
def test_unknown_host_names_are_refused_on_every_route(app, host):
    with TestClient(app, base_url=f"http://{host}") as c:
        for r in (c.get("/api/health"), c.get("/"), _post(c, b"x")):
            assert r.status_code == 400
            assert r.json()["detail"].startswith(f"host '{host.split(':')[0]}' is not allowed")


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"])
def test_loopback_host_names_are_answered(app, host):
    with TestClient(app, base_url=f"http://{host}") as c:
        assert c.get("/api/health").status_code == 200


def test_configured_host_names(predictor):
    app = create_app(predictor, allowed_hosts=["dive.lan"])
    with TestClient(app, base_url="http://dive.lan:8000") as c:
        assert c.get("/api/health").status_code == 200
    with TestClient(app, base_url="http://localhost") as c:
        assert c.get("/api/health").status_code == 400


def test_allowed_host_names_follow_the_bound_address():
    from mtlaqa.commands.serve import allowed_host_names

    assert allowed_host_names("127.0.0.1") == ["localhost", "127.0.0.1", "::1"]
    assert allowed_host_names("192.168.1.5", ("dive.lan",)) == ["192.168.1.5", "dive.lan"]
    assert allowed_host_names("0.0.0.0") == ["*"]


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        (
            {"Origin": "http://evil.example"},
            "cross-origin request refused (origin http://evil.example)",
        ),
        ({"Origin": "null"}, "cross-origin request refused (origin null)"),
        (
            {"Origin": "http://localhost:9999"},
            "cross-origin request refused (origin http://localhost:9999)",
        ),
        ({"Sec-Fetch-Site": "cross-site"}, "cross-origin request refused (cross-site)"),
        (
            {"Referer": "http://evil.example/page"},
            "cross-origin request refused (referer http://evil.example/page)",
        ),
    ],
)
def test_cross_origin_uploads_are_refused_before_reading(app, serve_run, headers, detail):
    calls = []
    service = app.state.service
    real = service.score
    service.score = lambda *a, **k: calls.append(1) or real(*a, **k)
    with TestClient(app, base_url="http://localhost:8000") as c:
        r = _post(c, serve_run.videos[0].read_bytes(), headers)
    assert (r.status_code, r.json()["detail"]) == (403, detail)
    assert calls == []


def test_same_origin_upload_is_scored(app, serve_run):
    same = {"Origin": "http://localhost:8000", "Sec-Fetch-Site": "same-origin"}
    with TestClient(app, base_url="http://localhost:8000") as c:
        r = _post(c, serve_run.videos[0].read_bytes(), same)
    assert r.status_code == 200, r.text


def test_two_file_parts_are_refused(app, serve_run):
    data = serve_run.videos[0].read_bytes()
    files = [
        ("file", ("a.mp4", io.BytesIO(data), "video/mp4")),
        ("file", ("b.mp4", io.BytesIO(data), "video/mp4")),
    ]
    with TestClient(app, base_url="http://localhost") as c:
        r = _post(c, data, files=files)
    assert r.status_code == 400
    assert r.json()["detail"] == "send one video per request (the form has several 'file' parts)"
