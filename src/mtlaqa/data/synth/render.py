"""SynthDive renderer: one dive's labels + hidden execution flaws -> uint8 frames (T, H, W, 3).

The body motion (trajectory, capsules) is in `body.py`; this module draws the scene: a background
canvas the camera pans over, the diver's shaded capsules composited far to near, and the splash.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
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
        img: np.ndarray
        if plain:
            img = np.full((h, w, 3), 128.0, dtype=np.float32)
            water = np.array([40.0, 90.0, 150.0])
        else:
            base = rng.uniform(40, 170, 3)
            grad = rng.uniform(-0.5, 0.5, 3)
            img = base + grad * (wy[..., None] - wy.mean()) * 4.0
            gh, gw = max(2, h // 12), max(2, w // 12)
            low = rng.standard_normal((gh, gw, 3)) * rng.uniform(8, 30)
            # per channel in 2D: the same values as one 3D zoom with factor 1 on the channel
            # axis (whose weights are exactly 1 and 0), at half the interpolation work
            zoom = [ndimage.zoom(low[..., c], (h / gh, w / gw), order=1) for c in range(3)]
            low = np.stack(zoom, axis=-1)[:h, :w]
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
        clipped: np.ndarray = np.clip(img, 10, 200).astype(np.float32)
        return clipped


class _DiverLayers:
    """The diver of every frame as a layer over its box: frame box = box * trans + color.

    All frames at once, on 1-D arrays of (frame, capsule, pixel) triples for the pixels of each
    capsule's box grown by r + 0.51 px; the per-pixel arithmetic and the order of the products
    (near to far) and of the sums (far to near) are those of a dense (capsule, H, W) evaluation
    per frame, so the frames are the same bit for bit."""

    def __init__(
        self,
        segs: list[dict[str, np.ndarray]],
        scene: _Scene,
        r0: npt.ArrayLike,  # (F,) top row of each frame's crop in the scene
        c0: npt.ArrayLike,  # (F,) left column
    ) -> None:
        size, ppm = scene.size, scene.ppm
        p0 = np.stack([s["p0"] for s in segs])  # (F, S, 3)
        p1 = np.stack([s["p1"] for s in segs])
        r0f, c0f = np.asarray(r0)[:, None], np.asarray(c0)[:, None]
        # world -> frame pixel coordinates (x right, y down): (F, S, 2)
        a = np.stack(
            [(p0[..., 0] - scene.x_min) * ppm - c0f, (scene.y_max - p0[..., 1]) * ppm - r0f], -1
        )
        b = np.stack(
            [(p1[..., 0] - scene.x_min) * ppm - c0f, (scene.y_max - p1[..., 1]) * ppm - r0f], -1
        )
        rad = np.stack([s["radius"] for s in segs]) * ppm  # (F, S)
        rmax = rad.max(1)[:, None]
        lo = np.floor(np.minimum(a, b).min(1) - rmax - 1).astype(int)  # (F, 2)
        hi = np.ceil(np.maximum(a, b).max(1) + rmax + 1).astype(int)
        self.x0, self.y0 = np.maximum(lo[:, 0], 0), np.maximum(lo[:, 1], 0)
        self.x1, self.y1 = np.minimum(hi[:, 0], size), np.minimum(hi[:, 1], size)
        self.w = np.maximum(self.x1 - self.x0, 0)
        self.h = np.where(self.w > 0, np.maximum(self.y1 - self.y0, 0), 0)
        self.w = np.where(self.h > 0, self.w, 0)
        order = np.argsort((p0[..., 2] + p1[..., 2]) / 2, axis=1)  # far first
        a = np.take_along_axis(a, order[..., None], 1)
        b = np.take_along_axis(b, order[..., None], 1)
        rad = np.take_along_axis(rad, order, 1)
        front = np.take_along_axis(np.stack([s["front"] for s in segs]), order[..., None], 1)
        f, k, yi, xi = self._pairs(a, b, rad)
        self._shade(scene, f, k, yi, xi, a, b, rad, front, r0f[:, 0])

    def _pairs(self, a: np.ndarray, b: np.ndarray, rad: np.ndarray) -> tuple[np.ndarray, ...]:
        """(frame, capsule, row, col) of the box pixels near each capsule, frame- then
        capsule-major; row/col relative to the frame's box."""
        hm, wm = int(self.h.max(initial=0)), int(self.w.max(initial=0))
        cols = self.x0[:, None] + np.arange(wm) + 0.5  # (F, Wm)
        rows = self.y0[:, None] + np.arange(hm) + 0.5
        # a pixel centre farther than r + 0.5 from the segment along x or y gets alpha 0; the
        # extra 0.01 px keeps float rounding (~1e-13 px) from ever dropping a covered pixel
        m = rad + 0.51
        lo, hi = np.minimum(a, b) - m[..., None], np.maximum(a, b) + m[..., None]
        in_c = (cols[:, None] > lo[..., :1]) & (cols[:, None] < hi[..., :1])  # (F, S, Wm)
        in_c &= (np.arange(wm) < self.w[:, None])[:, None]
        in_r = (rows[:, None] > lo[..., 1:]) & (rows[:, None] < hi[..., 1:])  # (F, S, Hm)
        in_r &= (np.arange(hm) < self.h[:, None])[:, None]
        # each capsule's pixels form a rectangle: rows r_lo + [0, nr), cols c_lo + [0, nc)
        nr, nc = in_r.sum(-1).ravel(), in_c.sum(-1).ravel()  # (F·S,)
        r_lo, c_lo = in_r.argmax(-1).ravel(), in_c.argmax(-1).ravel()
        cnt = nr * nc
        fs = np.repeat(np.arange(cnt.size), cnt)
        local = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        ncs = nc[fs]
        f, k = np.divmod(fs, a.shape[1])
        return f, k, r_lo[fs] + local // ncs, c_lo[fs] + local % ncs

    def _shade(
        self,
        scene: _Scene,
        f: np.ndarray,
        k: np.ndarray,
        yi: np.ndarray,
        xi: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        rad: np.ndarray,
        front: np.ndarray,
        r0: np.ndarray,
    ) -> None:
        ppm = scene.ppm
        d = b - a  # (F, S, 2)
        ln2 = (d**2).sum(-1)
        ln = np.sqrt(ln2)
        ex = np.where(ln > 1e-6, d[..., 0] / np.maximum(ln, 1e-6), 1.0)
        ey = np.where(ln > 1e-6, d[..., 1] / np.maximum(ln, 1e-6), 0.0)
        cols = (self.x0[f] + xi) + 0.5
        rows = (self.y0[f] + yi) + 0.5
        dx, dy = cols - a[f, k, 0], rows - a[f, k, 1]
        d0, d1 = d[f, k, 0], d[f, k, 1]
        t = np.clip((dx * d0 + dy * d1) / np.maximum(ln2, 1e-6)[f, k], 0.0, 1.0)
        cx, cy = dx - t * d0, dy - t * d1
        r = rad[f, k]
        alpha = np.clip(r - np.sqrt(cx * cx + cy * cy) + 0.5, 0.0, 1.0)
        # under water the diver is seen only faintly
        wy = scene.y_max - (r0[f] + rows) / ppm
        alpha = alpha * np.where(wy < 0, 0.25, 1.0)
        hit = alpha > 0
        f, k, yi, xi, dx, dy, r, alpha = (v[hit] for v in (f, k, yi, xi, dx, dy, r, alpha))
        # perpendicular offset across the limb -> which side of the cylinder we see
        perp_x, perp_y = -ey, ex
        off = np.clip((dx * perp_x[f, k] + dy * perp_y[f, k]) / r, -1.0, 1.0)
        cosv = np.sqrt(1.0 - off * off)
        # front normal in pixel axes (y down) and its component toward the camera (+z)
        fdot = front[..., 0] * perp_x - front[..., 1] * perp_y
        is_front = (off * fdot[f, k] + cosv * front[f, k, 2]) > 0
        shade = 0.62 + 0.38 * cosv
        col = np.where(is_front[:, None], scene.front, scene.back) * shade[:, None]  # (N, 3)
        # transmittance in front of each capsule: product of (1 - alpha) from the nearest one
        self.start = np.concatenate([[0], np.cumsum(self.h * self.w)])
        gp = self.start[f] + yi * self.w[f] + xi
        trans = np.ones(self.start[-1])
        after = np.empty_like(alpha)
        for s in range(a.shape[1] - 1, -1, -1):
            idx = np.flatnonzero(k == s)
            g = gp[idx]
            after[idx] = trans[g]
            trans[g] = trans[g] * (1.0 - alpha[idx])
        term = (alpha * after)[:, None] * col
        n = int(self.start[-1])
        self.trans = trans
        self.color = np.stack([np.bincount(gp, term[:, c], minlength=n) for c in range(3)], 1)

    def draw(self, frame: np.ndarray, i: int) -> None:
        """Composite frame i's diver into frame (H, W, 3) float32."""
        h, w = int(self.h[i]), int(self.w[i])
        if h == 0:
            return
        y0, x0, s = int(self.y0[i]), int(self.x0[i]), int(self.start[i])
        region = frame[y0 : y0 + h, x0 : x0 + w]
        trans = self.trans[s : s + h * w].reshape(h, w)[..., None]
        frame[y0 : y0 + h, x0 : x0 + w] = region * trans + self.color[s : s + h * w].reshape(
            h, w, 3
        )


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
    c0 = [int(round((scene.cx[i] - scene.x_min) * scene.ppm - half)) for i in range(n)]
    r0 = [int(round((scene.y_max - scene.cy[i]) * scene.ppm - half)) for i in range(n)]
    segs = [body_segments(tr, i) for i in range(n)]
    layers = _DiverLayers(segs, scene, r0, c0) if diver else None
    xe = None
    for i in range(n):
        frame = scene.canvas[r0[i] : r0[i] + size, c0[i] : c0[i] + size].copy()
        if i == te:  # the entry point: the lowest end of the body
            pts = np.concatenate([segs[i]["p0"], segs[i]["p1"]])
            xe = float(pts[np.argmin(pts[:, 1]), 0])
        if layers is not None:
            layers.draw(frame, i)
        if xe is not None and i - te <= SPLASH_FRAMES:
            amount = float(params["flaws"]["splash"])
            _draw_splash(frame, scene, (i - te) / SPLASH_FRAMES, amount, xe, r0[i], c0[i])
        out[i] = np.clip(frame, 0, 255, out=frame)  # in [0, 255]: the cast truncates
    return frames
