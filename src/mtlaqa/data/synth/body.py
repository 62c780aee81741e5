"""SynthDive body motion: one dive's labels + hidden flaws -> per-frame trajectory and capsules.

World coordinates are metres: X away from the platform, Y up, the water surface at Y = 0. The
diver is a 3D stick figure of capsules (front side warm and bright, back side dark) rotated by the
somersault angle psi in the image plane and the twist angle phi about its long axis, projected
orthographically. The camera follows the diver so that it stays large in the frame.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

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


def _mix(p: tuple[Any, ...], q: tuple[Any, ...], w: float | np.ndarray) -> tuple[Any, ...]:
    """p + (q - p) * w element by element (floats, or arrays over frames)."""
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


def _takeoff_pose(arm: bool, u: float) -> tuple[float, ...]:
    """Pose during the take-off frames; u in [0, 1) is the take-off progress."""
    if arm:
        return _mix(POSES["hands_up"], POSES["arm_bend"], math.sin(math.pi * u))
    if u < 0.5:
        return _mix(POSES["stand"], POSES["crouch"], _ramp(u, 0.0, 0.5).item())
    return _mix(POSES["crouch"], POSES["jump"], _ramp(u, 0.5, 1.0).item())


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
    out = {k: np.zeros(n) for k in ("x", "y", "psi", "phi", "hip", "knee", "arm", "elbow")}
    fl_w = np.zeros(n)
    joints = ("hip", "knee", "arm", "elbow")
    entry_pose = POSES["hands_up"] if hf else POSES["hands_down"]
    pos_pose = POSES[_POSITION_POSE[int(params["position"])]]
    # before the take-off: standing still
    out["x"][:s0], out["y"][:s0], out["psi"][:s0] = x_stand, y_stand, psi_start
    for k, j in zip(joints, POSES[stand[0]], strict=True):
        out[k][:s0] = j
    for t in t_all[s0:f0].tolist():  # take-off
        u = (t - s0) / TAKEOFF_FRAMES
        out["x"][t] = x_stand + (x0 - x_stand) * u
        out["y"][t] = y_stand - 0.25 * math.sin(math.pi * min(1.0, u * 1.3)) + (y0 - y_stand) * u
        out["psi"][t] = psi_start + lead * u * u
        for k, j in zip(joints, _takeoff_pose(arm, u), strict=True):
            out[k][t] = j
    # flight (s in [0, 1]), then on into the water with the entry velocity
    s = (t_all[f0:] - f0) / (te - f0)
    sm1 = s - 1.0
    fly = s <= 1.0
    psi_fly = psi_start + lead + (psi_total - psi_start - lead) * np.interp(s, grid, cum)
    out["x"][f0:] = np.where(fly, x0 + (x1 - x0) * s, x1 + (x1 - x0) * sm1 * 0.3)
    out["y"][f0:] = np.where(fly, y0 + v * s - c * s * s, y1 + (v - 2 * c) * sm1)
    out["psi"][f0:] = np.where(fly, psi_fly, psi_total)
    p, w, g = _profiles(params, np.minimum(s, 1.0))
    out["phi"][f0:] = 180.0 * int(params["tw_no"]) * g
    base = _mix(POSES["jump"], entry_pose, _ramp(s, 0.0, 0.5))
    pose = _mix(_mix(base, POSES["wrapped"], w), pos_pose, p)
    for k, jv in zip(joints, pose, strict=True):
        out[k][f0:] = jv
    fl_w[f0:] = _ramp(s, 0.0, 0.15)
    # flaws: bent knees where the legs should be straight, legs apart (scissor)
    kb, la = fl["knees_bent"], fl["legs_apart"]
    straight = 1.0 - np.minimum(1.0, out["knee"] / 60.0)
    out["knee"] = out["knee"] + fl_w * straight * kb
    out["scissor"] = fl_w * la
    out["facing"] = np.array([1.0 if rot in (1, 3) else -1.0])
    return out


def _dir(theta_deg: float) -> tuple[float, float]:
    r = math.radians(theta_deg)
    return math.cos(r), math.sin(r)


def _capsules_of(
    hip: float, knee: float, armang: float, elbow: float, sc: float
) -> tuple[list[float], list[float], list[float]]:
    """Body-space capsules of one pose, flat: starts (a, b, c), ends (a, b, c), normal angles.

    Torso, head, upper arms, forearms, thighs, shins (left then right)."""
    ea = _dir(armang)
    e0, e1 = TORSO + UARM * ea[0], 0.0 + UARM * ea[1]  # elbow; the shoulder is (TORSO, 0)
    fa = _dir(armang - elbow)
    h0, h1 = e0 + FARM * fa[0], e1 + FARM * fa[1]  # hand
    legs = []
    for s in (0.5, -0.5):
        th = 180.0 - hip + s * sc
        d = _dir(th)
        k0, k1 = THIGH * d[0], THIGH * d[1]  # knee
        d2 = _dir(th + knee)
        legs.append((th, k0, k1, k0 + SHIN * d2[0], k1 + SHIN * d2[1]))
    (ta, ka0, ka1, fa0, fa1), (tb, kb0, kb1, fb0, fb1) = legs
    sz, hz = SHOULDER_Z, HIP_Z
    p0 = [0.0, 0.0, 0.0, TORSO + NECK, 0.0, 0.0, TORSO, 0.0, sz, TORSO, 0.0, -sz]
    p0 += [e0, e1, sz, e0, e1, -sz, 0.0, 0.0, hz, 0.0, 0.0, -hz]
    p0 += [ka0, ka1, hz, kb0, kb1, -hz]
    p1 = [TORSO, 0.0, 0.0, TORSO + NECK + HEAD, 0.0, 0.0, e0, e1, sz, e0, e1, -sz]
    p1 += [h0, h1, sz, h0, h1, -sz, ka0, ka1, hz, kb0, kb1, -hz]
    p1 += [fa0, fa1, hz, fb0, fb1, -hz]
    ang = [90.0, 90.0, armang - 90.0, armang - 90.0]
    ang += [armang - elbow - 90.0, armang - elbow - 90.0, ta - 90.0, tb - 90.0]
    ang += [ta + knee - 90.0, tb + knee - 90.0]
    return p0, p1, ang


def body_capsules(tr: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """World-space capsules of every frame: p0, p1 (F, S, 3), front (F, S, 3), radius (F, S).

    Frame by frame the same arithmetic as one frame's (S, 3) @ (3, 3) products; the products of
    all frames are one stacked matmul (the same BLAS call per frame)."""
    poses = zip(*(tr[k].tolist() for k in ("hip", "knee", "arm", "elbow", "scissor")), strict=True)
    a: list[float] = []
    b: list[float] = []
    ang: list[float] = []
    for pose in poses:
        pa, pb, pang = _capsules_of(*pose)
        a += pa
        b += pb
        ang += pang
    psi = [math.radians(v) for v in tr["psi"].tolist()]
    phi = [math.radians(v) for v in tr["phi"].tolist()]
    facing = float(tr["facing"][0])
    u3 = np.array([(math.sin(p), math.cos(p), 0.0) for p in psi])  # (F, 3)
    f0 = facing * np.array([(math.cos(p), -math.sin(p), 0.0) for p in psi])
    l0 = np.array([0.0, 0.0, 1.0])
    cphi = np.array([math.cos(p) for p in phi])[:, None]
    sphi = np.array([math.sin(p) for p in phi])[:, None]
    f3 = f0 * cphi + l0 * sphi
    l3 = -f0 * sphi + l0 * cphi
    com = np.stack([tr["x"], tr["y"], np.zeros(len(psi))], -1)[:, None]  # (F, 1, 3)
    basis = np.stack([u3, f3, l3], 1)  # (F, 3, 3): body (a, b, c) -> world
    nf = len(psi)
    p0 = com + np.array(a).reshape(nf, -1, 3) @ basis
    p1 = com + np.array(b).reshape(nf, -1, 3) @ basis
    # front normal in the body's sagittal plane
    rad = [math.radians(v) for v in ang]  # as _dir
    nrm = np.array([(math.cos(r), math.sin(r)) for r in rad]).reshape(nf, -1, 2)
    front = nrm[..., :1] * u3[:, None] + nrm[..., 1:2] * f3[:, None]
    radius = np.broadcast_to(RADII, (nf, RADII.size)).copy()
    return {"p0": p0, "p1": p1, "front": front, "radius": radius}
