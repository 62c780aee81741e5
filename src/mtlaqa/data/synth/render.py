"""SynthDive renderer: one dive's labels + hidden execution flaws -> uint8 frames (T, H, W, 3).

World coordinates are metres: X away from the platform, Y up, the water surface at Y = 0. The
diver is a 3D stick figure of capsules (front side warm and bright, back side dark) rotated by the
somersault angle psi in the image plane and the twist angle phi about its long axis, projected
orthographically. The camera follows the diver so that it stays large in the frame.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

NUM_FRAMES = 112
END_FRAME = 106
TAKEOFF_FRAMES = 8
SPLASH_FRAMES = 14

# body (metres): hip at the origin, U = head-ward long axis, F = front, L = left
TORSO, NECK, HEAD = 0.58, 0.07, 0.11
UARM, FARM, THIGH, SHIN = 0.31, 0.30, 0.46, 0.46
HIP_Z, SHOULDER_Z = 0.08, 0.17
# torso, head, 2 upper arms, 2 forearms, 2 thighs, 2 shins
RADII = np.array([0.17, 0.14, 0.085, 0.075, 0.085, 0.075, 0.12, 0.12, 0.095, 0.095])

# joint angles in degrees: hip flexion, knee flexion, arm angle from U toward F (0 overhead,
# 180 down), elbow flexion
POSES: dict[str, tuple[float, float, float, float]] = {
    "stand": (0.0, 0.0, 180.0, 0.0),
    "crouch": (55.0, 85.0, 215.0, 0.0),
    "jump": (0.0, 0.0, 10.0, 0.0),
    "hands_up": (0.0, 0.0, 0.0, 0.0),
    "hands_down": (0.0, 0.0, 180.0, 0.0),
    "wrapped": (0.0, 0.0, 175.0, 110.0),
    "free": (8.0, 0.0, 175.0, 110.0),
    "pike": (120.0, 0.0, 60.0, 10.0),
    "tuck": (140.0, 150.0, 150.0, 30.0),
    "arm_bend": (45.0, 0.0, 0.0, 0.0),
}
_POSITION_POSE = {0: "free", 1: "pike", 2: "tuck"}


def _ramp(s: np.ndarray | float, a: float, b: float) -> np.ndarray:
    x = np.clip((np.asarray(s, dtype=np.float64) - a) / (b - a), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _mix(p: tuple[float, ...], q: tuple[float, ...], w: float) -> tuple[float, ...]:
    return tuple(a + (b - a) * w for a, b in zip(p, q, strict=True))


def head_first(params: dict[str, Any]) -> bool:
    """Whether the dive enters head first (armstands start upside down)."""
    return (int(params["ss_no"]) + int(params["armstand"])) % 2 == 1


def _profiles(params: dict[str, Any], s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fold amount p(s), twist-wrap amount w(s), twist fraction g(s) over flight time s."""
    twisting = int(params["tw_no"]) > 0
    if twisting and int(params["position"]) != 0:
        w = _ramp(s, 0.02, 0.08) * (1.0 - _ramp(s, 0.42, 0.5))
        p = _ramp(s, 0.45, 0.53) * (1.0 - _ramp(s, 0.74, 0.84))
        g = _ramp(s, 0.06, 0.44)
    else:
        w = np.zeros_like(s)
        p = _ramp(s, 0.0, 0.1) * (1.0 - _ramp(s, 0.72, 0.84))
        g = _ramp(s, 0.08, 0.7) if twisting else np.zeros_like(s)
    return p, w, g


def trajectory(params: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per-frame hip position, somersault and twist angles and pose of the whole video."""
    t_all = np.arange(int(params.get("num_frames", NUM_FRAMES)))
    fl = params["flaws"]
    s0 = int(params["start_frame"])
    f0 = s0 + TAKEOFF_FRAMES
    te = int(params["entry_frame"])
    height = float(params["height"])
    arm = bool(params["armstand"])
    rot = int(params["rotation_type"])
    direction = 1.0 if rot in (0, 1) else -1.0  # +: head moves away from the platform
    hf = head_first(params)
    psi_start = 180.0 if arm else 0.0
    psi_total = psi_start + direction * (180.0 * int(params["ss_no"]) + fl["entry_angle"])
    lead = direction * 25.0
    stand = ("hands_up" if arm else "stand", -0.15 if arm else -0.12)
    y_stand = height + (1.22 if arm else 0.95)
    x_stand = stand[1]
    x0, y0 = -0.05, y_stand + (0.0 if arm else 0.1)
    x1 = max(0.3, 1.0 + fl["takeoff"])
    ext = (TORSO + NECK + UARM + FARM) if hf else (THIGH + SHIN)
    y1 = ext * abs(math.cos(math.radians(fl["entry_angle"]))) + 0.05
    apex = 1.5 if height < 5 else 0.9
    drop = y0 - y1
    v = 2 * apex + 2 * math.sqrt(apex * apex + apex * drop)
    c = v + drop
    # rotation is faster while folded: integrate an angular speed profile over the flight
    grid = np.linspace(0.0, 1.0, 401)
    pg, wg, _ = _profiles(params, grid)
    omega = 1.0 + 2.5 * pg + 0.8 * wg
    cum = np.concatenate([[0.0], np.cumsum((omega[1:] + omega[:-1]) / 2)])
    cum /= cum[-1]

    n = len(t_all)
    out = {
        k: np.zeros(n) for k in ("x", "y", "psi", "phi", "hip", "knee", "arm", "elbow", "scissor")
    }
    entry_pose = POSES["hands_up"] if hf else POSES["hands_down"]
    pos_pose = POSES[_POSITION_POSE[int(params["position"])]]
    kb, la = fl["knees_bent"], fl["legs_apart"]
    for i, t in enumerate(t_all):
        if t < s0:
            x, y, psi, phi, pose, fl_w = x_stand, y_stand, psi_start, 0.0, POSES[stand[0]], 0.0
        elif t < f0:
            u = (t - s0) / TAKEOFF_FRAMES
            if arm:
                pose = _mix(POSES["hands_up"], POSES["arm_bend"], math.sin(math.pi * u))
            elif u < 0.5:
                pose = _mix(POSES["stand"], POSES["crouch"], _ramp(u, 0.0, 0.5).item())
            else:
                pose = _mix(POSES["crouch"], POSES["jump"], _ramp(u, 0.5, 1.0).item())
            x = x_stand + (x0 - x_stand) * u
            y = y_stand - 0.25 * math.sin(math.pi * min(1.0, u * 1.3)) + (y0 - y_stand) * u
            psi, phi, fl_w = psi_start + lead * u * u, 0.0, 0.0
        else:
            s = (t - f0) / (te - f0)
            if s <= 1.0:
                x = x0 + (x1 - x0) * s
                y = y0 + v * s - c * s * s
                psi = (
                    psi_start
                    + lead
                    + (psi_total - psi_start - lead) * float(np.interp(s, grid, cum))
                )
            else:  # keep moving into the water with the entry velocity
                x = x1 + (x1 - x0) * (s - 1.0) * 0.3
                y = y1 + (v - 2 * c) * (s - 1.0)
                psi = psi_total
            p, w, g = (float(a[0]) for a in _profiles(params, np.array([min(s, 1.0)])))
            phi = 180.0 * int(params["tw_no"]) * g
            base = _mix(POSES["jump"], entry_pose, _ramp(s, 0.0, 0.5).item())
            pose = _mix(_mix(base, POSES["wrapped"], w), pos_pose, p)
            fl_w = _ramp(s, 0.0, 0.15).item()
        out["x"][i], out["y"][i], out["psi"][i], out["phi"][i] = x, y, psi, phi
        hip, knee, armang, elbow = pose
        # flaws: bent knees where the legs should be straight, legs apart (scissor)
        straight = 1.0 - min(1.0, knee / 60.0)
        out["hip"][i], out["arm"][i], out["elbow"][i] = hip, armang, elbow
        out["knee"][i] = knee + fl_w * straight * kb
        out["scissor"][i] = fl_w * la
    out["facing"] = np.array([1.0 if rot in (1, 3) else -1.0])
    return out


def _dir(theta_deg: float) -> tuple[float, float]:
    r = math.radians(theta_deg)
    return math.cos(r), math.sin(r)


def body_segments(tr: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    """World-space capsules of frame i: p0, p1 (S, 2), depth (S,), front (S, 3), radius (S,)."""
    hip, knee, armang, elbow, sc = (
        float(tr[k][i]) for k in ("hip", "knee", "arm", "elbow", "scissor")
    )
    psi, phi = math.radians(tr["psi"][i]), math.radians(tr["phi"][i])
    facing = float(tr["facing"][0])
    u3 = np.array([math.sin(psi), math.cos(psi), 0.0])
    f0 = facing * np.array([math.cos(psi), -math.sin(psi), 0.0])
    l0 = np.array([0.0, 0.0, 1.0])
    f3 = f0 * math.cos(phi) + l0 * math.sin(phi)
    l3 = -f0 * math.sin(phi) + l0 * math.cos(phi)
    com = np.array([tr["x"][i], tr["y"][i], 0.0])

    segs: list[tuple[tuple[float, float, float], tuple[float, float, float], float]] = []
    sh = (TORSO, 0.0)
    segs.append(((0.0, 0.0, 0.0), (TORSO, 0.0, 0.0), 90.0))
    segs.append(((TORSO + NECK, 0.0, 0.0), (TORSO + NECK + HEAD, 0.0, 0.0), 90.0))
    ea = _dir(armang)
    elb = (sh[0] + UARM * ea[0], sh[1] + UARM * ea[1])
    fa = _dir(armang - elbow)
    hand = (elb[0] + FARM * fa[0], elb[1] + FARM * fa[1])
    for z in (SHOULDER_Z, -SHOULDER_Z):
        segs.append(((sh[0], sh[1], z), (elb[0], elb[1], z), armang - 90.0))
    for z in (SHOULDER_Z, -SHOULDER_Z):
        segs.append(((elb[0], elb[1], z), (hand[0], hand[1], z), armang - elbow - 90.0))
    legs = []
    for z, s in ((HIP_Z, 0.5), (-HIP_Z, -0.5)):
        th = 180.0 - hip + s * sc
        d = _dir(th)
        kn = (THIGH * d[0], THIGH * d[1])
        d2 = _dir(th + knee)
        ft = (kn[0] + SHIN * d2[0], kn[1] + SHIN * d2[1])
        legs.append(
            (
                (0.0, 0.0, z),
                (kn[0], kn[1], z),
                th - 90.0,
                (kn[0], kn[1], z),
                (ft[0], ft[1], z),
                th + knee - 90.0,
            )
        )
    for lg in legs:
        segs.append(lg[:3])
    for lg in legs:
        segs.append(lg[3:])

    basis = np.stack([u3, f3, l3])  # body (a, b, c) -> world
    p0 = com + np.array([s[0] for s in segs]) @ basis
    p1 = com + np.array([s[1] for s in segs]) @ basis
    nrm = np.array([_dir(s[2]) for s in segs])  # front normal in the body's sagittal plane
    front = nrm[:, :1] * u3 + nrm[:, 1:2] * f3
    return {"p0": p0, "p1": p1, "front": front, "radius": RADII.copy()}


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


def _draw_diver(
    frame: np.ndarray, seg: dict[str, np.ndarray], scene: _Scene, r0: int, c0: int
) -> None:
    """Composite the capsules into frame (H, W, 3) float32; r0/c0: the frame's canvas offset."""
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
    px = (np.arange(x0, x1) + 0.5)[None, None, :]
    py = (np.arange(y0, y1) + 0.5)[None, :, None]
    ax, ay = a[:, 0, None, None], a[:, 1, None, None]
    d = b - a
    ln2 = (d**2).sum(1)
    ln = np.sqrt(ln2)
    ex = np.where(ln > 1e-6, d[:, 0] / np.maximum(ln, 1e-6), 1.0)
    ey = np.where(ln > 1e-6, d[:, 1] / np.maximum(ln, 1e-6), 0.0)
    dx, dy = px - ax, py - ay
    t = np.clip(
        (dx * d[:, 0, None, None] + dy * d[:, 1, None, None])
        / np.maximum(ln2, 1e-6)[:, None, None],
        0.0,
        1.0,
    )
    cx = dx - t * d[:, 0, None, None]
    cy = dy - t * d[:, 1, None, None]
    dist = np.sqrt(cx * cx + cy * cy)
    r = rad[:, None, None]
    alpha = np.clip(r - dist + 0.5, 0.0, 1.0)
    # perpendicular offset across the limb -> which side of the cylinder we see
    perp_x, perp_y = -ey, ex
    off = np.clip((dx * perp_x[:, None, None] + dy * perp_y[:, None, None]) / r, -1.0, 1.0)
    cosv = np.sqrt(1.0 - off * off)
    # front normal in pixel axes (y down) and its component toward the camera (+z)
    fdot = front[:, 0] * perp_x - front[:, 1] * perp_y
    is_front = (off * fdot[:, None, None] + cosv * front[:, 2, None, None]) > 0
    shade = 0.62 + 0.38 * cosv
    col = np.where(is_front[..., None], scene.front, scene.back) * shade[..., None]
    # under water the diver is seen only faintly
    wy = scene.y_max - (r0 + py[0, :, 0]) / ppm
    alpha = alpha * np.where(wy < 0, 0.25, 1.0)[None, :, None]
    trans = np.cumprod((1.0 - alpha)[::-1], axis=0)[::-1]
    after = np.concatenate([trans[1:], np.ones_like(trans[:1])], axis=0)
    wgt = alpha * after
    region = frame[y0:y1, x0:x1]
    frame[y0:y1, x0:x1] = region * trans[0][..., None] + (wgt[..., None] * col).sum(0)


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
        frames[i] = np.clip(frame, 0, 255).astype(np.uint8)
    if scene.flip:
        frames = np.ascontiguousarray(frames[:, :, ::-1])
    return frames
