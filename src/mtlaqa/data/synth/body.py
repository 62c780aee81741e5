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
    out = {
        k: np.zeros(n) for k in ("x", "y", "psi", "phi", "hip", "knee", "arm", "elbow", "scissor")
    }
    entry_pose = POSES["hands_up"] if hf else POSES["hands_down"]
    pos_pose = POSES[_POSITION_POSE[int(params["position"])]]
    kb, la = fl["knees_bent"], fl["legs_apart"]
    pose: tuple[float, ...]
    for i, t in enumerate(t_all):
        if t < s0:
            x, y, psi, phi, pose, fl_w = x_stand, y_stand, psi_start, 0.0, POSES[stand[0]], 0.0
        elif t < f0:
            u = (t - s0) / TAKEOFF_FRAMES
            pose = _takeoff_pose(arm, u)
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
