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
    body_capsules,
    trajectory,
)
from mtlaqa.data.synth.layers import draw_diver

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
        """The float32 canvas (h, w, 3) in [10, 200]: stands, water, platform or springboard.

        What depends only on the row (wy) or the column (wx) is computed once per row or column
        and broadcast; the values are those of the whole (h, w) grid, element for element."""
        wx, wy = self.world_xy(np.arange(h, dtype=np.float64)[:, None], np.arange(w)[None, :])
        img: np.ndarray
        if plain:
            img = np.full((h, w, 3), 128.0, dtype=np.float32)
            water = np.array([40.0, 90.0, 150.0])
        else:
            img, water = self._stands(rng, wx, wy, h, w)
        # img is float32: the float64 values written into it below are rounded before the final
        # clip to [10, 200] instead of after it, which gives the same values (the bounds are
        # float32 numbers and rounding is monotonic)
        rows = np.arange(h)
        under = rows[wy[:, 0] < 0]  # the bottom rows
        wsin = np.sin(wy[under] * 9.0 + 2.0 * np.sin(wx * 1.7))  # (rows under water, w)
        wcol = water * (1.0 + 0.12 * wsin)[..., None]
        img[under] = wcol * np.clip(1.0 + wy[under] * 0.08, 0.6, 1.0)[..., None]
        img[rows[(wy[:, 0] >= -0.04) & (wy[:, 0] < 0.0)]] = np.minimum(water + 50, 200)
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
        return np.clip(img, 10, 200, out=img)

    @staticmethod
    def _stands(
        rng: np.random.Generator, wx: np.ndarray, wy: np.ndarray, h: int, w: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The random backdrop (h, w, 3) float32 above water and the water colour."""
        base = rng.uniform(40, 170, 3)
        grad = rng.uniform(-0.5, 0.5, 3)
        img = base + grad * (wy[..., None] - np.broadcast_to(wy, (h, w)).mean()) * 4.0  # (h, 1, 3)
        gh, gw = max(2, h // 12), max(2, w // 12)
        low = rng.standard_normal((gh, gw, 3)) * rng.uniform(8, 30)
        # per channel in 2D: the same values as one 3D zoom with factor 1 on the channel
        # axis (whose weights are exactly 1 and 0), at half the interpolation work
        zoom = [ndimage.zoom(low[..., c], (h / gh, w / gw), order=1) for c in range(3)]
        img = img + np.stack(zoom, axis=-1)[:h, :w]
        if rng.random() < 0.6:  # stands / rows of seats
            period = rng.uniform(0.3, 1.2)
            amp = rng.uniform(10, 35)
            img += amp * np.sign(np.sin(2 * np.pi * wy / period))[..., None]
        if rng.random() < 0.35:  # vertical panels
            period = rng.uniform(0.8, 3.0)
            img += rng.uniform(8, 25) * np.sin(2 * np.pi * wx / period)[..., None]
        img += rng.normal(0, rng.uniform(2, 12), (h, w, 3))
        water = np.array([rng.uniform(10, 70), rng.uniform(70, 140), rng.uniform(120, 190)])
        return img.astype(np.float32), water


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
    white = np.array([240, 246, 252], dtype=np.uint8)
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
    c0 = np.rint((scene.cx - scene.x_min) * scene.ppm - half).astype(int)
    r0 = np.rint((scene.y_max - scene.cy) * scene.ppm - half).astype(int)
    caps = body_capsules(tr)
    # the canvas lies in [10, 200]: frames are its uint8 crops, with the diver box recomputed
    canvas8 = scene.canvas.astype(np.uint8)
    cols = c0
    if scene.flip:  # crops of the mirrored canvas are the mirrored crops
        canvas8, cols = np.ascontiguousarray(canvas8[:, ::-1]), canvas8.shape[1] - c0 - size
    for i, (r, c) in enumerate(zip(r0.tolist(), cols.tolist(), strict=True)):
        frames[i] = canvas8[r : r + size, c : c + size]
    if diver:
        draw_diver(frames, scene.flip, caps, scene, r0, c0)
    if te < n:  # the splash, from the entry point: the lowest end of the body
        pts = np.concatenate([caps["p0"][te], caps["p1"][te]])
        xe = float(pts[np.argmin(pts[:, 1]), 0])
        amount = float(params["flaws"]["splash"])
        for i in range(te, min(n, te + SPLASH_FRAMES + 1)):
            u = (i - te) / SPLASH_FRAMES
            _draw_splash(out[i], scene, u, amount, xe, int(r0[i]), int(c0[i]))
    return frames
