"""Regenerate docs/screenshot.png: serve a checkpoint, score videos in headless Chromium, capture.

    PYTHONPATH=src python docs/make_screenshot.py runs/demo/checkpoint.pt \
        runs/demo/data/videos/d00001.mp4 runs/demo/data/videos/d00002.mp4 --out docs/screenshot.png

Needs the `web` extra, Selenium and Debian's chromium + chromium-driver (see .ci/browser). Each
video is uploaded through the page; the last one is shown, the others are in the history.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from mtlaqa.predict import load_model
from mtlaqa.web.app import create_app

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("videos", nargs="+")
    ap.add_argument("--out", default="docs/screenshot.png")
    ap.add_argument("--width", type=int, default=1200)
    args = ap.parse_args()

    app = create_app(load_model(args.checkpoint, "cpu"), checkpoint_name=Path(args.checkpoint).name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    with tempfile.TemporaryDirectory() as profile:
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for f in [*FLAGS, f"--window-size={args.width},900", f"--user-data-dir={profile}"]:
            opts.add_argument(f)
        service = webdriver.ChromeService(executable_path="/usr/bin/chromedriver")
        driver = webdriver.Chrome(service=service, options=opts)
        try:
            wait = WebDriverWait(driver, 120)
            driver.get(f"http://127.0.0.1:{port}/")
            for n, video in enumerate(args.videos, 1):
                driver.find_element(By.ID, "file").send_keys(str(Path(video).resolve()))
                wait.until(lambda d, n=n: len(d.find_elements(By.CSS_SELECTOR, "#history li")) == n)
            wait.until(
                ec.visibility_of_element_located((By.CSS_SELECTOR, "svg[data-role=clip-chart]"))
            )
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(args.width, height + 200)  # room for the window frame
            time.sleep(0.5)
            Path(args.out).write_bytes(driver.get_screenshot_as_png())
        finally:
            driver.quit()
            server.should_exit = True
            thread.join(10)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
