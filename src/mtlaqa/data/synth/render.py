"""SynthDive renderer: one dive's labels + hidden execution flaws -> uint8 frames (T, H, W, 3).

The body motion (trajectory, capsules) is in `body.py`; this module draws the scene: a background
canvas the camera pans over, the diver's shaded capsules composited far to near, and the splash.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from mtlaqa.data.synth.body import (
    END_FRAME,
    NUM_FRAMES,
    SPLASH_FRAMES,
    body_segments,
    trajectory,
)

__all__ = ["END_FRAME", "NUM_FRAMES", "render_dive"]


class _Scene:
    """Per-video randomness: camera, background canvas, palette, splash droplets."""

    def __init__(
        self, params: dict[str, Any], size: int, tr: dict[str, np.ndarray], plain: bool
    ) -> None:
        rng = np.random.default_rng(list(params["scene_seed"]) + [17])
        self.size = size
        self.flip = bool(rng.random() < 0.5)
        view = 2.3 / rng.uniform(0.45, 0.6)  # the stretched diver fills 45-60 % of the height
        self.ppm = size / view
        bx, by = rng.uniform(-0.08, 0.08) * view, rng.uniform(-0.06, 0.06) * view
        self.cx = 0.7 * tr["x"] + bx
        self.cy = np.maximum(tr["y"] + by, 0.2 * view)
        half = view / 2
        self.x_min, x_max = self.cx.min() - half - 0.1, self.cx.max() + half + 0.1
        y_min, self.y_max = self.cy.min() - half - 0.1, self.cy.max() + half + 0.1
        w = int(math.ceil((x_max - self.x_min) * self.ppm)) + 2
        h = int(math.ceil((self.y_max - y_min) * self.ppm)) + 2
        self.canvas = self._background(rng, params, h, w, plain)
        jit = 0.0 if plain else 18.0
        self.front = np.array([238.0, 168.0, 118.0]) + rng.uniform(-jit, jit, 3)
        self.back = np.array([70.0, 42.0, 38.0]) + rng.uniform(-jit / 2, jit / 2, 3)
        n_drop = 256
        self.drops = rng.standard_normal((n_drop, 2))
        self.drop_u = rng.random(n_drop)

    def world_xy(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (self.x_min + (cols + 0.5) / self.ppm, self.y_max - (rows + 0.5) / self.ppm)

    def _background(
        self, rng: np.random.Generator, params: dict[str, Any], h: int, w: int, plain: bool
    ) -> np.ndarray:
        rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
        wx, wy = self.world_xy(rows.astype(np.float64), cols.astype(np.float64))
        wx, wy = np.broadcast_to(wx, (h, w)), np.broadcast_to(wy, (h, w))
        if plain:
            img = np.full((h, w, 3), 128.0, dtype=np.float32)
            water = np.array([40.0, 90.0, 150.0])
        else:
            base = rng.uniform(40, 170, 3)
            grad = rng.uniform(-0.5, 0.5, 3)
            img = base + grad * (wy[..., None] - wy.mean()) * 4.0
            gh, gw = max(2, h // 12), max(2, w // 12)
            low = rng.standard_normal((gh, gw, 3)) * rng.uniform(8, 30)
            low = ndimage.zoom(low, (h / gh, w / gw, 1), order=1)[:h, :w]
            img = img + low
            if rng.random() < 0.6:  # stands / rows of seats
                period = rng.uniform(0.3, 1.2)
                amp = rng.uniform(10, 35)
                img = img + amp * np.sign(np.sin(2 * np.pi * wy / period))[..., None]
            if rng.random() < 0.35:  # vertical panels
                period = rng.uniform(0.8, 3.0)
                img = img + rng.uniform(8, 25) * np.sin(2 * np.pi * wx / period)[..., None]
            img = img + rng.normal(0, rng.uniform(2, 12), (h, w, 3))
            water = np.array([rng.uniform(10, 70), rng.uniform(70, 140), rng.uniform(120, 190)])
        img = np.asarray(img, dtype=np.float32)
        under = wy < 0
        wcol = water * (1.0 + 0.12 * np.sin(wy * 9.0 + 2.0 * np.sin(wx * 1.7)))[..., None]
        wcol = wcol * np.clip(1.0 + wy * 0.08, 0.6, 1.0)[..., None]
        img = np.where(under[..., None], wcol, img)
        surf = (wy >= -0.04) & (wy < 0.0)
        img[surf] = np.minimum(water + 50, 200)
        # platform (thick slab on a tower) or springboard (thin board on a fulcrum)
        hgt = float(params["height"])
        grey = 140.0 if plain else rng.uniform(100, 175)
        if hgt >= 5:
            slab = (wx < 0) & (wx > -4.0) & (wy <= hgt) & (wy > hgt - 0.35)
            tower = (wx < -1.6) & (wx > -4.0) & (wy < hgt - 0.35) & (wy > 0)
            img[tower] = grey * 0.7
            img[slab] = grey
            img[slab & (wy > hgt - 0.05)] = grey * 0.8
        else:
            board = (wx < 0) & (wx > -4.8) & (wy <= hgt) & (wy > hgt - 0.08)
            fulcrum = (np.abs(wx + 2.3) < 0.25) & (wy <= hgt - 0.08) & (wy > hgt - 0.5)
            stand = (wx < -2.6) & (wx > -4.6) & (wy < hgt - 0.5) & (wy > 0)
            img[stand] = grey * 0.6
            img[fulcrum] = (190.0, 160.0, 40.0)
            img[board] = (80.0, 135.0, 185.0)
        return np.clip(img, 10, 200).astype(np.float32)


def _capsule_pairs(
    a: np.ndarray, b: np.ndarray, rad: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(segment, row, col) index triples of the pixels inside each capsule's own box (2 px
    margin), segment-major: a superset of the pixels the capsule covers."""
    m = rad + 2.0
    lo, hi = np.minimum(a, b) - m[:, None], np.maximum(a, b) + m[:, None]
    in_c = (cols[None, :] > lo[:, :1]) & (cols[None, :] < hi[:, :1])  # (S, W)
    in_r = (rows[None, :] > lo[:, 1:]) & (rows[None, :] < hi[:, 1:])  # (S, H)
    return np.nonzero(in_r[:, :, None] & in_c[:, None, :])


def _draw_diver(
    frame: np.ndarray, seg: dict[str, np.ndarray], scene: _Scene, r0: int, c0: int
) -> None:
    """Composite the capsules into frame (H, W, 3) float32; r0/c0: the frame's canvas offset.

    Each capsule is evaluated only on the pixels near it (1-D arrays of (segment, pixel) pairs);
    the per-pixel arithmetic and the far-to-near order of the products and sums are those of
    the dense (segment, H, W) formulation, so the frames are the same bit for bit."""
    size, ppm = scene.size, scene.ppm

    # world -> frame pixel coordinates (x right, y down)
    def to_px(p: np.ndarray) -> np.ndarray:
        return np.stack(
            [(p[:, 0] - scene.x_min) * ppm - c0, (scene.y_max - p[:, 1]) * ppm - r0], axis=1
        )

    a, b = to_px(seg["p0"]), to_px(seg["p1"])
    rad = seg["radius"] * ppm
    lo = np.floor(np.minimum(a, b).min(0) - rad.max() - 1).astype(int)
    hi = np.ceil(np.maximum(a, b).max(0) + rad.max() + 1).astype(int)
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], size), min(hi[1], size)
    if x1 <= x0 or y1 <= y0:
        return
    order = np.argsort((seg["p0"][:, 2] + seg["p1"][:, 2]) / 2)  # far first
    a, b, rad = a[order], b[order], rad[order]
    front = seg["front"][order]
    cols, rows = np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5
    d = b - a
    ln2 = (d**2).sum(1)
    ln = np.sqrt(ln2)
    ex = np.where(ln > 1e-6, d[:, 0] / np.maximum(ln, 1e-6), 1.0)
    ey = np.where(ln > 1e-6, d[:, 1] / np.maximum(ln, 1e-6), 0.0)
    k, yi, xi = _capsule_pairs(a, b, rad, rows, cols)  # (N,) each
    dx, dy = cols[xi] - a[k, 0], rows[yi] - a[k, 1]
    d0, d1 = d[k, 0], d[k, 1]
    t = np.clip((dx * d0 + dy * d1) / np.maximum(ln2, 1e-6)[k], 0.0, 1.0)
    cx, cy = dx - t * d0, dy - t * d1
    r = rad[k]
    alpha = np.clip(r - np.sqrt(cx * cx + cy * cy) + 0.5, 0.0, 1.0)
    # under water the diver is seen only faintly
    wy = scene.y_max - (r0 + rows) / ppm
    alpha = alpha * np.where(wy < 0, 0.25, 1.0)[yi]
    hit = alpha > 0
    k, yi, xi, dx, dy, r, alpha = (v[hit] for v in (k, yi, xi, dx, dy, r, alpha))
    # perpendicular offset across the limb -> which side of the cylinder we see
    perp_x, perp_y = -ey, ex
    off = np.clip((dx * perp_x[k] + dy * perp_y[k]) / r, -1.0, 1.0)
    cosv = np.sqrt(1.0 - off * off)
    # front normal in pixel axes (y down) and its component toward the camera (+z)
    fdot = front[:, 0] * perp_x - front[:, 1] * perp_y
    is_front = (off * fdot[k] + cosv * front[k, 2]) > 0
    shade = 0.62 + 0.38 * cosv
    col = np.where(is_front[:, None], scene.front, scene.back) * shade[:, None]  # (N, 3)
    # transmittance in front of each capsule: product of (1 - alpha) from the nearest one
    h, w = y1 - y0, x1 - x0
    pix = yi * w + xi
    trans = np.ones((len(order) + 1, h * w))
    trans[k, pix] = 1.0 - alpha
    trans = np.cumprod(trans[::-1], axis=0)[::-1]  # row S: ones; row 0: all capsules
    term = (alpha * trans[k + 1, pix])[:, None] * col
    acc = np.stack([np.bincount(pix, term[:, c], minlength=h * w) for c in range(3)], axis=1)
    region = frame[y0:y1, x0:x1]
    frame[y0:y1, x0:x1] = region * trans[0].reshape(h, w)[..., None] + acc.reshape(h, w, 3)


def _draw_splash(
    frame: np.ndarray, scene: _Scene, u: float, amount: float, xe: float, r0: int, c0: int
) -> None:
    """White entry splash: a column, surface foam and droplets; u in [0, 1] is its age."""
    size, ppm = scene.size, scene.ppm
    rows = np.arange(size, dtype=np.float64)[:, None]
    cols = np.arange(size, dtype=np.float64)[None, :]
    wx, wy = scene.world_xy(rows + r0, cols + c0)
    grow = math.sin(math.pi * min(1.0, u * 1.25)) ** 0.7 if u < 0.8 else max(0.0, (1 - u) * 2.5)
    hs = (0.12 + 2.3 * amount) * grow
    ws = (0.1 + 0.55 * amount) * (0.6 + 0.4 * u)
    white = np.array([240.0, 246.0, 252.0], dtype=np.float32)
    col = ((wx - xe) / ws) ** 2 + (np.maximum(wy, 0) / max(hs, 1e-3)) ** 2 < 1.0
    col &= wy > -0.03
    foam_w = (0.15 + 0.9 * amount) * (0.5 + u)
    foam = (((wx - xe) / foam_w) ** 2 + (wy / 0.07) ** 2 < 1.0) & (u > 0.05)
    mask = col | foam
    n = int(4 + 120 * amount)
    tau = 0.25 + 1.2 * u
    dxs = xe + scene.drops[:n, 0] * (0.25 + 0.9 * amount) * tau
    dys = (0.5 + 3.0 * amount) * (0.4 + scene.drop_u[:n]) * tau - 2.0 * tau * tau
    ok = dys > 0
    ci = np.round((dxs[ok] - scene.x_min) * ppm - c0 - 0.5).astype(int)
    ri = np.round((scene.y_max - dys[ok]) * ppm - r0 - 0.5).astype(int)
    inb = (ci >= 0) & (ci < size) & (ri >= 0) & (ri < size)
    mask[ri[inb], ci[inb]] = True
    frame[mask] = white


def render_dive(
    params: dict[str, Any], size: int = 112, *, plain: bool = False, diver: bool = True
) -> np.ndarray:
    """Frames (T, size, size, 3) uint8 of one dive; plain: flat background (for tests)."""
    tr = trajectory(params)
    scene = _Scene(params, size, tr, plain)
    n = len(tr["x"])
    te = int(params["entry_frame"])
    frames = np.empty((n, size, size, 3), dtype=np.uint8)
    out = frames[:, :, ::-1] if scene.flip else frames  # mirrored videos written mirrored
    half = size / 2
    xe = None
    for i in range(n):
        c0 = int(round((scene.cx[i] - scene.x_min) * scene.ppm - half))
        r0 = int(round((scene.y_max - scene.cy[i]) * scene.ppm - half))
        frame = scene.canvas[r0 : r0 + size, c0 : c0 + size].copy()
        seg = body_segments(tr, i)
        if i == te:  # the entry point: the lowest end of the body
            pts = np.concatenate([seg["p0"], seg["p1"]])
            xe = float(pts[np.argmin(pts[:, 1]), 0])
        if diver:
            _draw_diver(frame, seg, scene, r0, c0)
        if xe is not None and i - te <= SPLASH_FRAMES:
            amount = float(params["flaws"]["splash"])
            _draw_splash(frame, scene, (i - te) / SPLASH_FRAMES, amount, xe, r0, c0)
        out[i] = np.clip(frame, 0, 255, out=frame)  # in [0, 255]: the cast truncates
    return frames
