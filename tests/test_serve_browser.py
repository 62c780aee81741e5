"""End to end in headless Chromium: the page uploads a SynthDive video and draws the result.

Needs Debian's `chromium` and `chromium-driver` (`.ci/browser` installs them); skipped without.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

HAVE_CHROMIUM = os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)
# CI sets MTLAQA_REQUIRE_BROWSER=1 after .ci/browser: there a missing browser fails, never skips
if not HAVE_CHROMIUM and os.environ.get("MTLAQA_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"MTLAQA_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not HAVE_CHROMIUM,
        reason="headless Chromium absent (apt-get install chromium chromium-driver, or .ci/browser)",
    ),
]
webdriver = pytest.importorskip("selenium.webdriver")
uvicorn = pytest.importorskip("uvicorn")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from mtlaqa.predict import load_model  # noqa: E402
from mtlaqa.web.app import create_app  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _serve(app):
    """uvicorn on a free loopback port in a thread; stopped and joined on exit."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def _chromium(profile_dir):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
        f"--user-data-dir={profile_dir}",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=opts
    )
    try:
        yield driver
    finally:
        driver.quit()


def _upload(driver, path) -> None:
    driver.find_element(By.ID, "file").send_keys(str(path))


def _drop(driver, path) -> None:
    """Drag and drop as the page sees it: a `drop` event whose DataTransfer holds the file."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    driver.execute_script(
        """
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], arguments[1], { type: "video/mp4" }));
        const zone = document.getElementById("drop");
        zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
        """,
        data,
        path.name,
    )


def test_page_scores_uploads_and_compares(serve_run, tmp_path):
    predictor = load_model(serve_run.checkpoint, "cpu")
    # a known calibration (nonconformity 0.1 … 0.9): the 50% interval is the score ± 0.5
    predictor.calibration = {
        "kind": "plain",
        "units": "final",
        "n": 9,
        "scores": [i / 10 for i in range(1, 10)],
    }
    expected = [predictor.predict(v, level=0.5) for v in serve_run.videos[:2]]
    assert expected[0].score_interval == pytest.approx(
        [expected[0].score - 0.5, expected[0].score + 0.5]
    )
    app = create_app(predictor, checkpoint_name="tiny", tmp_dir=str(tmp_path / "uploads"))
    (tmp_path / "uploads").mkdir()
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(300))
    with _serve(app) as url, _chromium(tmp_path / "profile") as driver:
        wait = WebDriverWait(driver, 60)
        driver.get(url + "/")
        wait.until(ec.text_to_be_present_in_element((By.ID, "model-info"), "tiny"))

        driver.find_element(By.CSS_SELECTOR, "#level option[value='0.5']").click()
        _upload(driver, serve_run.videos[0])
        card = wait.until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, "#result [data-role=score-card]"))
        )
        score = card.find_element(By.CSS_SELECTOR, "[data-role=score]").text
        assert score == f"{expected[0].score:.2f}"
        lo, hi = expected[0].score_interval
        interval = card.find_element(By.CSS_SELECTOR, "[data-role=score-interval]").text
        assert interval == f"50%: {lo:.2f} – {hi:.2f}"
        bar = card.find_element(By.CSS_SELECTOR, "svg[data-role=interval-bar]")
        assert bar.is_displayed() and len(bar.find_elements(By.CSS_SELECTOR, "line.range")) == 1
        assert expected[0].dive_number in card.text
        chart = driver.find_element(By.CSS_SELECTOR, "#result svg[data-role=clip-chart]")
        assert chart.is_displayed() and chart.size["width"] > 300
        assert len(chart.find_elements(By.CSS_SELECTOR, "[data-role=clip-bar]")) == 3
        assert len(chart.find_elements(By.CSS_SELECTOR, "[data-role=clip-thumb]")) == 3
        rows = driver.find_elements(By.CSS_SELECTOR, "#result [data-role=attributes] tr")
        assert len(rows) == 1 + 1 + 5  # header, FINA dive, five attributes
        commentary = driver.find_element(By.CSS_SELECTOR, "#result [data-role=commentary]").text
        if expected[0].caption:
            assert expected[0].caption in commentary
        else:  # a one-epoch model may emit <eos> at once: the page must say so, not hide it
            assert expected[0].caption == "" and "empty commentary" in commentary

        # a broken video: a one-line message in the page, the last result stays
        _upload(driver, bad)
        err = wait.until(ec.visibility_of_element_located((By.ID, "error")))
        assert "garbage.mp4: cannot read video" in err.text
        assert driver.find_element(By.CSS_SELECTOR, "#result [data-role=score]").text == score

        # a second dive, dropped on the drop zone; then compare the two side by side
        _drop(driver, serve_run.videos[1])
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history li")) == 2)
        assert not driver.find_element(By.ID, "error").is_displayed()
        for i in range(2):  # each tick redraws the list: find the box again every time
            driver.find_elements(By.CSS_SELECTOR, "#history input[type=checkbox]")[i].click()
        panes = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#compare-panes .pane"))
        assert driver.find_element(By.ID, "compare").is_displayed() and len(panes) == 2
        shown = [p.find_element(By.CSS_SELECTOR, "[data-role=score]").text for p in panes]
        assert shown == [f"{e.score:.2f}" for e in expected]
        charts = "return document.querySelectorAll('#compare svg[data-role=clip-chart]').length"
        assert driver.execute_script(charts) == 2
        both = driver.find_element(By.CSS_SELECTOR, "#compare [data-role=compare-intervals]")
        assert len(both.find_elements(By.CSS_SELECTOR, "line.range")) == 2  # one axis, two dives
        for e in expected:
            lo, hi = e.score_interval
            assert f"50%: {lo:.2f} – {hi:.2f}" in both.text
    assert list((tmp_path / "uploads").iterdir()) == []
