"""SynthDive diver layers: every frame's shaded capsules composited over its scene crop.

A few frames at a time, on 1-D arrays of the box pixels near each capsule; see `DiverLayers`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DiverLayers", "draw_diver"]

_CHUNK = 8  # frames shaded together: small temporaries (in cache, no fresh pages to fault in)


def _runs(cnt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand runs of lengths cnt: (run of each item, index in its run, first item of each run)."""
    first = np.cumsum(cnt) - cnt
    run = np.repeat(np.arange(cnt.size), cnt)
    within = np.arange(int(cnt.sum())) - first[run]
    return run, within, first


class DiverLayers:
    """The diver of every frame as a layer over its box: frame box = box * trans + color.

    Works on 1-D arrays of the pixels of each capsule's box grown by r + 0.51 px, capsule-major
    (all frames' pixels of the farthest capsule first), grouped in rows so that what depends only
    on the row is computed once per row. The per-pixel arithmetic and the order of the products
    (near to far) and of the sums (far to near) are those of a dense (capsule, H, W) evaluation
    per frame, so the frames are the same bit for bit."""

    def __init__(
        self,
        caps: dict[str, np.ndarray],  # body_capsules(): p0, p1, front (F, S, 3), radius (F, S)
        scene: Any,  # render._Scene: size, ppm, x_min, y_max, front, back
        r0: np.ndarray,  # (F,) top row of each frame's crop in the scene
        c0: np.ndarray,  # (F,) left column
    ) -> None:
        size, ppm = scene.size, scene.ppm
        self.scene, self.r0, self.c0 = scene, r0, c0
        p0, p1 = caps["p0"], caps["p1"]
        r0f, c0f = r0[:, None], c0[:, None]
        # world -> frame pixel coordinates (x right, y down): (F, S, 2)
        a = np.stack(
            [(p0[..., 0] - scene.x_min) * ppm - c0f, (scene.y_max - p0[..., 1]) * ppm - r0f], -1
        )
        b = np.stack(
            [(p1[..., 0] - scene.x_min) * ppm - c0f, (scene.y_max - p1[..., 1]) * ppm - r0f], -1
        )
        rad = caps["radius"] * ppm  # (F, S)
        rmax = rad.max(1)[:, None]
        lo = np.floor(np.minimum(a, b).min(1) - rmax - 1).astype(int)  # (F, 2)
        hi = np.ceil(np.maximum(a, b).max(1) + rmax + 1).astype(int)
        self.x0, self.y0 = np.maximum(lo[:, 0], 0), np.maximum(lo[:, 1], 0)
        x1, y1 = np.minimum(hi[:, 0], size), np.minimum(hi[:, 1], size)
        self.w = np.maximum(x1 - self.x0, 0)
        self.h = np.where(self.w > 0, np.maximum(y1 - self.y0, 0), 0)
        self.w = np.where(self.h > 0, self.w, 0)
        self.start = np.concatenate([[0], np.cumsum(self.h * self.w)])
        order = np.argsort((p0[..., 2] + p1[..., 2]) / 2, axis=1)  # far first
        self.a = a = np.take_along_axis(a, order[..., None], 1)
        self.b = b = np.take_along_axis(b, order[..., None], 1)
        self.rad = rad = np.take_along_axis(rad, order, 1)
        front = np.take_along_axis(caps["front"], order[..., None], 1)
        d = b - a  # (F, S, 2)
        ln2 = (d**2).sum(-1)
        ln = np.sqrt(ln2)
        ex = np.where(ln > 1e-6, d[..., 0] / np.maximum(ln, 1e-6), 1.0)
        ey = np.where(ln > 1e-6, d[..., 1] / np.maximum(ln, 1e-6), 0.0)
        # front normal in pixel axes (y down), with perp = (-ey, ex) across the limb
        fdot = front[..., 0] * -ey - front[..., 1] * ex
        self.per = {
            "ax": a[..., 0],
            "ay": a[..., 1],
            "d0": d[..., 0],
            "d1": d[..., 1],
            "den": np.maximum(ln2, 1e-6),
            "r": rad,
            "px": -ey,
            "py": ex,
            "fdot": fdot,
            "fz": front[..., 2],
        }

    def layer(self, fs: slice) -> tuple[np.ndarray, np.ndarray]:
        """(trans, color) of frames fs over their boxes, row-major box after box: (n,), (n, 3)."""
        n = int(self.start[fs.stop] - self.start[fs.start])
        trans, color = np.ones(n), np.zeros((n, 3))
        if n:
            # per capsule, capsule- then frame-major: (S·Fc,) each
            cap = {k: np.ascontiguousarray(v[fs].T).ravel() for k, v in self.per.items()}
            run, y, x, nc = self._rows(self.a[fs], self.b[fs], self.rad[fs], fs)
            self._shade(fs, cap, run, y, x, nc, trans, color)
        return trans, color

    def _rows(
        self, a: np.ndarray, b: np.ndarray, rad: np.ndarray, fs: slice
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The box rows near each capsule of frames fs, capsule- then frame-major: (capsule run,
        row in the frame, first column in the frame, number of columns) of each."""
        x0, y0, h, w = self.x0[fs], self.y0[fs], self.h[fs], self.w[fs]
        hm, wm = int(h.max(initial=0)), int(w.max(initial=0))
        cols = x0[:, None] + np.arange(wm) + 0.5  # (Fc, Wm)
        rows = y0[:, None] + np.arange(hm) + 0.5
        # a pixel centre farther than r + 0.5 from the segment along x or y gets alpha 0; the
        # extra 0.01 px keeps float rounding (~1e-13 px) from ever dropping a covered pixel
        m = rad + 0.51
        lo, hi = np.minimum(a, b) - m[..., None], np.maximum(a, b) + m[..., None]
        in_c = (cols[:, None] > lo[..., :1]) & (cols[:, None] < hi[..., :1])  # (Fc, S, Wm)
        in_c &= (np.arange(wm) < w[:, None])[:, None]
        in_r = (rows[:, None] > lo[..., 1:]) & (rows[:, None] < hi[..., 1:])  # (Fc, S, Hm)
        in_r &= (np.arange(hm) < h[:, None])[:, None]
        # each capsule's pixels form a rectangle: rows r_lo + [0, nr), cols c_lo + [0, nc)
        nr, nc = in_r.sum(-1).T.ravel(), in_c.sum(-1).T.ravel()  # (S·Fc,) capsule-major
        r_lo, c_lo = in_r.argmax(-1).T.ravel(), in_c.argmax(-1).T.ravel()
        run, within, _ = _runs(np.where(nc > 0, nr, 0))
        f = run % a.shape[0]
        return run, y0[f] + r_lo[run] + within, x0[f] + c_lo[run], nc[run]

    def _shade(
        self,
        fs: slice,
        cap: dict[str, np.ndarray],
        run: np.ndarray,  # per row: its capsule run (capsule * Fc + frame in the chunk)
        y: np.ndarray,  # its row in the frame
        x: np.ndarray,  # its first column in the frame
        nc: np.ndarray,  # its number of columns (> 0)
        trans: np.ndarray,  # out: (n,) ones
        color: np.ndarray,  # out: (n, 3) zeros
    ) -> None:
        """Alpha, shade, transmittance and colour of the box pixels of frames fs."""
        scene, r0 = self.scene, self.r0[fs]
        nf = r0.size
        f = run % nf
        rows = y + 0.5
        dy = rows - cap["ay"][run]
        d0, d1 = cap["d0"][run], cap["d1"][run]
        # under water the diver is seen only faintly
        under = np.where(scene.y_max - (r0[f] + rows) / scene.ppm < 0, 0.25, 1.0)
        first = np.cumsum(nc) - nc
        shift = x - first  # column of pixel j (of all rows' pixels) in row q: j + shift[q]

        def rep(v: np.ndarray) -> np.ndarray:
            return np.repeat(v, nc)

        dx = (np.arange(int(nc.sum())) + rep(shift)) + 0.5
        dx -= rep(cap["ax"][run])
        d0p = rep(d0)
        t = dx * d0p
        t += rep(dy * d1)
        t /= rep(cap["den"][run])
        np.clip(t, 0.0, 1.0, out=t)
        cx = dx - t * d0p
        cy = rep(dy) - t * rep(d1)
        cx *= cx
        cy *= cy
        cx += cy
        alpha = rep(cap["r"][run]) - np.sqrt(cx, out=cx)
        alpha += 0.5
        np.clip(alpha, 0.0, 1.0, out=alpha)
        alpha *= rep(under)
        mask = alpha > 0
        hit = np.flatnonzero(mask)
        alpha, dx = alpha[hit], dx[hit]
        cum = np.concatenate([[0], np.cumsum(mask)])
        hc = cum[first + nc] - cum[first]  # hits per row

        def hrep(v: np.ndarray) -> np.ndarray:
            return np.repeat(v, hc)

        # perpendicular offset across the limb -> which side of the cylinder we see
        off = dx * hrep(cap["px"][run])
        off += hrep(dy * cap["py"][run])
        off /= hrep(cap["r"][run])
        np.clip(off, -1.0, 1.0, out=off)
        cosv = np.sqrt(1.0 - off * off)
        # the front normal's component toward the camera (+z)
        is_front = (off * hrep(cap["fdot"][run]) + cosv * hrep(cap["fz"][run])) > 0
        shade = 0.62 + 0.38 * cosv
        # pixel position in the chunk's part of the layer of all frames' boxes
        sf, yf, xf, wf = self.start[fs], self.y0[fs], self.x0[fs], self.w[fs]
        gp = hit + hrep(((sf[f] - sf[0]) + (y - yf[f]) * wf[f] - xf[f]) + shift)
        # transmittance in front of each capsule: product of (1 - alpha) from the nearest one;
        # capsule s's pixels are the slice bounds[s]:bounds[s + 1]
        ns = cap["r"].size // nf
        hcum = np.concatenate([[0], np.cumsum(hc)])
        bounds = hcum[np.searchsorted(run, np.arange(ns + 1) * nf)]
        after = np.empty_like(alpha)
        for s in range(ns - 1, -1, -1):
            g = gp[bounds[s] : bounds[s + 1]]
            tg = trans[g]
            after[bounds[s] : bounds[s + 1]] = tg
            trans[g] = tg * (1.0 - alpha[bounds[s] : bounds[s + 1]])
        alpha *= after
        for c, (fc, bc) in enumerate(zip(scene.front, scene.back, strict=True)):
            term = alpha * (np.where(is_front, fc, bc) * shade)
            color[:, c] = np.bincount(gp, term, minlength=trans.size)

    def composite(
        self, frames: np.ndarray, flip: bool, fs: slice, trans: np.ndarray, color: np.ndarray
    ) -> None:
        """Put frames fs' boxes into frames (F, H, W, 3) uint8 (mirrored if flip): the clipped
        float32 of the float32 scene crop * trans + color, as a float frame cast to uint8."""
        canvas, out = self.scene.canvas, frames[:, :, ::-1] if flip else frames
        boxes = [
            (i, y, x, h, w, r + y, c + x, s)
            for i, y, x, h, w, r, c, s in zip(
                range(fs.start, fs.stop),
                *(v[fs].tolist() for v in (self.y0, self.x0, self.h, self.w, self.r0, self.c0)),
                (self.start[fs] - self.start[fs.start]).tolist(),
                strict=True,
            )
            if h
        ]
        src = np.empty((trans.size, 3), np.float32)
        for _, _, _, h, w, r, c, s in boxes:
            src[s : s + h * w].reshape(h, w, 3)[:] = canvas[r : r + h, c : c + w]
        # src * trans + color per channel, on flat arrays (no length-3 inner loops)
        v = (src.ravel() * np.repeat(trans, 3) + color.ravel()).astype(np.float32)
        v8 = np.clip(v, 0, 255, out=v).astype(np.uint8).reshape(-1, 3)
        for i, y, x, h, w, _, _, s in boxes:
            out[i, y : y + h, x : x + w] = v8[s : s + h * w].reshape(h, w, 3)


def draw_diver(
    frames: np.ndarray,
    flip: bool,
    caps: dict[str, np.ndarray],
    scene: Any,
    r0: np.ndarray,
    c0: np.ndarray,
) -> None:
    """Composite every frame's diver into frames (F, H, W, 3) uint8, mirrored if flip, whose
    frame i is the scene crop at (r0[i], c0[i]) (the same pixels as a float32 frame composited
    and cast: the diver box is recomputed from the float32 canvas)."""
    lay = DiverLayers(caps, scene, r0, c0)
    nf = len(r0)
    for f0 in range(0, nf, _CHUNK):
        fs = slice(f0, min(f0 + _CHUNK, nf))
        lay.composite(frames, flip, fs, *lay.layer(fs))
