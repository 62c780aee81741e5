"""The FastAPI app: one page, `POST /api/predict`, `GET /api/health`, OpenAPI at /openapi.json."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from mtlaqa.errors import MtlaqaError
from mtlaqa.predict import Predictor
from mtlaqa.web.guard import LOOPBACK_NAMES, BrowserGuard
from mtlaqa.web.limits import BodySizeLimit
from mtlaqa.web.memory import release_freed_memory
from mtlaqa.web.thumbnails import clip_thumbnails
from mtlaqa.web.uploads import VIDEO_EXTS, UploadError, save_upload

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_MB = 200.0
# multipart framing around the file: the body limit allows this much over the file limit
MULTIPART_SLACK = 64 * 1024
# the page loads nothing from elsewhere (the machine may be offline); thumbnails are data URLs
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'"


class Attribute(BaseModel):
    label: int
    name: str
    probability: float
    probabilities: list[float]


class PredictResponse(BaseModel):
    """One scored video: the Prediction fields plus what the page needs to draw it."""

    filename: str
    size_bytes: int
    score: float | None
    # score_protocol with_dd: the predicted execution (score = execution × difficulty)
    execution: float | None = None
    score_sigma: float | None = None  # the head's own uncertainty (gaussian/distribution heads)
    score_interval: list[float] | None = None  # [low, high] split-conformal at interval_level
    interval_level: float | None = None
    interval_note: str | None = None  # why there is no interval, when there is none
    score_spread: float | None = None  # score_head=exemplar: std over the exemplars' estimates
    attributes: dict[str, Attribute]
    dive_number: str | None
    dive_name: str | None
    caption: str | None
    clip_scores: list[float]
    clip_contributions: list[float]
    clip_frames: list[list[int]]
    thumbnails: list[str]  # JPEG data URL of each clip's middle frame
    elapsed_s: float


class Health(BaseModel):
    status: str
    checkpoint: str
    tasks: list[str]
    num_clips: int
    max_upload_bytes: int
    video_types: list[str]


class ErrorBody(BaseModel):
    detail: str


class ScoringService:
    """The model, loaded once; a lock makes inference one video at a time.

    Each request has its own temporary folder and its own Prediction object, so answers cannot
    mix; the lock keeps two inferences from fighting over the CPU threads and the model.
    """

    def __init__(
        self, predictor: Predictor, max_upload_bytes: int, tmp_dir: str | None = None
    ) -> None:
        self.predictor = predictor
        self.max_upload_bytes = int(max_upload_bytes)
        self.tmp_dir = tmp_dir
        self._lock = threading.Lock()

    def score(
        self, upload: UploadFile, end_frame: int | None, level: float | None = None
    ) -> PredictResponse:
        """Save the upload in a fresh temporary folder, predict, draw thumbnails, delete it."""
        name = Path(upload.filename or "").name or "upload"
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="mtlaqa-upload-", dir=self.tmp_dir) as tmp:
            path = save_upload(upload.file, name, Path(tmp), self.max_upload_bytes)
            size = path.stat().st_size
            try:
                with self._lock:  # all decoding under the lock: one request's frames at a time
                    try:
                        pred = self.predictor.predict(path, end_frame=end_frame, level=level)
                        thumbs = clip_thumbnails(path, pred.clip_frames)
                    finally:
                        release_freed_memory()
            except MtlaqaError as e:  # name the user's file, not our temporary path
                raise type(e)(
                    str(e).replace(str(path.resolve()), name).replace(str(path), name)
                ) from None
        d = pred.to_dict()
        d.pop("video")
        return PredictResponse(
            filename=name,
            size_bytes=size,
            thumbnails=thumbs,
            elapsed_s=time.perf_counter() - t0,
            **d,
        )


def _static_dir() -> Path:
    return Path(str(resources.files("mtlaqa.web") / "static"))


def create_app(
    predictor: Predictor,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    checkpoint_name: str = "",
    tmp_dir: str | None = None,
    allowed_hosts: Sequence[str] = LOOPBACK_NAMES,
) -> FastAPI:
    """Build the app around a loaded Predictor (the model is never reloaded per request).

    Requests must name one of `allowed_hosts` ("*": any) in Host; uploads must be same-origin.
    """
    max_bytes = int(max_upload_mb * 1e6)
    service = ScoringService(predictor, max_bytes, tmp_dir)
    app = FastAPI(
        title="mtlaqa",
        summary="Score a dive video: score, FINA dive, commentary, per-clip contributions.",
        version=_version(),
    )
    app.state.service = service
    app.add_middleware(BodySizeLimit, max_bytes=max_bytes + MULTIPART_SLACK, shown_bytes=max_bytes)
    app.add_middleware(BrowserGuard, allowed_hosts=allowed_hosts)  # outermost: before any read
    static = _static_dir()
    app.mount("/static", StaticFiles(directory=static), name="static")
    _add_error_handlers(app)
    _add_routes(app, service, checkpoint_name, static)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Security headers on every response; every error becomes a one-line JSON `detail`."""

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.exception_handler(MtlaqaError)
    async def mtlaqa_error(request: Request, exc: MtlaqaError) -> JSONResponse:
        status = exc.status if isinstance(exc, UploadError) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # a bug, not a user mistake: the traceback goes to the server log, one line to the page
        log.exception("while serving %s", request.url.path)
        line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return JSONResponse({"detail": f"internal error: {line}"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # one line for the page, e.g. "file: Field required"
        parts = [
            f"{'.'.join(str(x) for x in e.get('loc', ())[1:])}: {e.get('msg', '')}"
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(parts) or "bad request"}, status_code=422)


_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Empty file"},
    413: {"model": ErrorBody, "description": "Upload over the size limit"},
    415: {"model": ErrorBody, "description": "Not a video file type or content"},
    422: {"model": ErrorBody, "description": "Unreadable or too-short video"},
}


def _add_routes(app: FastAPI, service: ScoringService, checkpoint_name: str, static: Path) -> None:
    """The page, the health check and the scoring endpoint."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    @app.get("/api/health", response_model=Health)
    def health() -> Health:
        """The server is up and the model is loaded."""
        cfg = service.predictor.cfg
        return Health(
            status="ok",
            checkpoint=checkpoint_name,
            tasks=list(cfg.model.tasks),
            num_clips=cfg.data.num_clips,
            max_upload_bytes=service.max_upload_bytes,
            video_types=sorted(VIDEO_EXTS),
        )

    @app.post("/api/predict", response_model=PredictResponse, responses=_ERROR_RESPONSES)
    async def predict(
        request: Request,
        file: Annotated[
            UploadFile, File(description="The dive video (mp4, avi, mov, mkv, webm, ...)")
        ],
        end_frame: Annotated[
            int | None, Form(ge=1, description="Frame where the dive ends")
        ] = None,
        level: Annotated[
            float | None, Form(gt=0, lt=1, description="Score interval level (default 0.9)")
        ] = None,
    ) -> PredictResponse:
        """Score one video. Runs in a worker thread; inference itself is one at a time."""
        form = await request.form()  # already parsed for `file`: the cached form
        if len(form.getlist("file")) > 1:
            raise UploadError("send one video per request (the form has several 'file' parts)")
        return await run_in_threadpool(service.score, file, end_frame, level)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("mtlaqa")
    except Exception:  # noqa: BLE001 - running from a source tree without install metadata
        return "0"
