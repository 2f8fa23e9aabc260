"""The colour study (`spatial-ros bench colours`): colour names under coloured light (ROS-free).

SpatialBench scenes are rendered under the lights a robot meets: a tungsten lamp (about
2700-3000 K), a cool skylit room (about 8000 K), a warm key light with skylight as its fill,
each left partly in the image by the camera's own white balance. Half the chromatic objects
are made pale (mixed with 35-60 % white: a pale green mug, a light blue tissue box) and keep
their colour's name; white, grey and black ones are tinted a little (``TINT``), as real ones
are. Every object in view is named from its own pixels (the mask, eroded)
and checked against the colour it was given.
Each naming method is scored on the same pixels: the name from the raw pixels, and the name
after a white balance estimated from the frame (colors.illuminant_gains).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from spatial_ros.colors import balanced, illuminant_gains, surface_color

__all__ = ["LIGHTS", "ColourScores", "run_colour_study", "format_colour_table"]

#: RGB gains of black-body light (normalised to the largest channel; sRGB primaries), from
#: tabulated black-body colours: 2700 K, 3500 K, 8000 K
_K2700 = (1.0, 0.66, 0.34)
_K3500 = (1.0, 0.78, 0.55)
_K8000 = (0.84, 0.89, 1.0)


def _left(gains, share: float) -> tuple[float, float, float]:
    """What remains of a light's colour after a camera's white balance removed 1 - ``share``
    of it (in log terms)."""
    return tuple(float(g ** share) for g in gains)


#: name -> (light colour, ambient colour): the cast the camera leaves in its image
LIGHTS: dict[str, tuple[tuple, tuple]] = {
    "neutral": ((1.0, 1.0, 1.0), (1.0, 1.0, 1.0)),
    "tungsten, half corrected": (_left(_K2700, 0.5), _left(_K2700, 0.5)),
    "warm lamp, uncorrected": (_K3500, _K3500),
    "skylight, half corrected": (_left(_K8000, 0.6), _left(_K8000, 0.6)),
    "lamp key, skylight fill": (_left(_K3500, 0.6), _left(_K8000, 0.8)),
}

#: colours that have no pale variant of the same name (pale brown is beige)
_NOT_PALE = ("white", "grey", "black", "brown")
_NEUTRAL = ("white", "grey", "black")
#: a neutral object's colour is tinted: each channel times 1 + this x a standard normal (a
#: white tape roll, a black mesh cup and grey socks are not the palette's exact greys)
TINT = 0.06
#: the row of the pale objects alone (under every light)
PALE = "pale objects (all lights)"
#: naming methods: name -> (white-balanced by colors.illuminant_gains, colors.surface_color
#: arguments); "thresholds before": the chromatic thresholds of surface_color before this
#: study (saturation 0.3, chroma 0.12)
_BEFORE = {"min_saturation": 0.3, "min_chroma": 0.12}
METHODS = {"raw, thresholds before": (False, _BEFORE),
           "raw pixels": (False, {}),
           "white-balanced, thresholds before": (True, _BEFORE),
           "white-balanced (default)": (True, {})}


@dataclass
class ColourScores:
    #: (light, method) -> [right, total]
    counts: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    #: (light, method) -> {truth -> {said: count}} of the wrong names
    errors: dict[tuple[str, str], dict[str, dict[str, int]]] = field(default_factory=dict)

    def accuracy(self, light: str, method: str) -> float:
        right, total = self.counts.get((light, method), [0, 0])
        return right / max(total, 1)

    def total(self, method: str) -> tuple[int, int]:
        """(right, total) over every light (the pale row counted once, in its lights)."""
        pairs = [v for (lt, m), v in self.counts.items() if m == method and lt != PALE]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def run_colour_study(*, split: str = "household_val", n: int = 40, seed: int = 0,
                     width: int = 320, height: int = 240, min_pixels: int = 150,
                     progress: bool = True) -> ColourScores:
    """Every scene of ``split`` under every light of ``LIGHTS``, each object in view named by
    every method of ``METHODS``."""
    from tqdm import tqdm

    from spatial_ros.bench.generate import generate_scene
    from spatial_ros.sim.groundtruth import ground_truth
    from spatial_ros.sim.render import Renderer

    scores = ColourScores()
    kernel = np.ones((3, 3), np.uint8)
    for i in tqdm(range(n), desc=f"colours {split}", unit="scene", disable=not progress):
        world, pose = generate_scene(split, seed, i, width=width, height=height)
        truth = {o.id: o.color for o in ground_truth(world, Renderer(world), pose).objects}
        rng = np.random.default_rng([seed, i, 7])
        pale: set[int] = set()
        for model in world.models:
            if model.label not in truth:
                continue
            if truth[model.label] in _NEUTRAL:  # real whites, greys and blacks are tinted
                tint = 1.0 + rng.normal(0.0, TINT, 3)
                for v in model.visuals:
                    v.color = np.clip(v.color * tint, 0.0, 1.0)
            elif truth[model.label] not in _NOT_PALE and rng.random() < 0.5:
                pale.add(model.label)
                for v in model.visuals:
                    v.color = v.color + (1.0 - v.color) * rng.uniform(0.35, 0.6)
        for light, (key, fill) in LIGHTS.items():
            frame = Renderer(replace(world, light_color=key, ambient_color=fill)).render(pose)
            rgb = frame.rgb.astype(np.float64) / 255.0
            gains = illuminant_gains(frame.rgb)
            for oid, colour in truth.items():
                own = cv2.erode((frame.mask == oid).astype(np.uint8), kernel) > 0
                if own.sum() < min_pixels:
                    continue
                for method, (wb, kw) in METHODS.items():
                    said = surface_color(balanced(rgb[own], gains if wb else None), **kw)
                    for key in ((light, method),) + (((PALE, method),) if oid in pale else ()):
                        c = scores.counts.setdefault(key, [0, 0])
                        c[0] += said == colour
                        c[1] += 1
                    if said != colour:
                        e = scores.errors.setdefault((light, method), {}).setdefault(colour, {})
                        e[said] = e.get(said, 0) + 1
    return scores


def format_colour_table(scores: ColourScores, *, title: str = "") -> str:
    rows = ([f"**{title}**", ""] if title else []) + [
        "| light | " + " | ".join(METHODS) + " |",
        "|---|" + "---|" * len(METHODS)]
    for light in (*LIGHTS, PALE):
        rows.append(f"| {light} | " + " | ".join(
            f"{100 * scores.accuracy(light, m):.1f}%" for m in METHODS) + " |")
    rows.append("| **all** | " + " | ".join(
        f"**{100 * r / max(t, 1):.1f}%** ({r}/{t})"
        for r, t in (scores.total(m) for m in METHODS)) + " |")
    return "\n".join(rows)
