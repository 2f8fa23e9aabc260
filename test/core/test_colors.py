"""Colour names survive shading: brightness is compared as a ratio."""
import numpy as np
import pytest

from spatial_ros.colors import PALETTE, color_name, surface_color


@pytest.mark.parametrize("name", sorted(PALETTE))
def test_every_palette_colour_names_itself_lit_and_shaded(name):
    r, g, b = PALETTE[name]
    assert color_name((r, g, b)) == name
    shade = 0.6 if name != "white" else 0.9  # a side face under the renderer's light
    assert color_name((r * shade, g * shade, b * shade)) == name


def test_a_grey_side_in_shadow_is_grey_not_black():
    assert color_name((0.23, 0.23, 0.23)) == "grey"  # 0.5 grey at the 0.45 ambient level
    assert color_name((0.05, 0.05, 0.05)) == "black"
    assert color_name((0.4, 0.05, 0.05)) == "red"


@pytest.mark.parametrize("name", list(PALETTE))
def test_surface_colour_names_shaded_palette_colours(name):
    """A plain object of each palette colour, lit from full down to half (SpatialBench)."""
    shade = np.linspace(0.5, 1.0, 200)[:, None]
    assert surface_color(np.array(PALETTE[name]) * shade) == name


def test_print_and_highlights_do_not_name_an_object():
    """Real objects: the best-lit pixels of a red box are its white letters, of a black can its
    label; a white mug in shade reads slightly blue (real white balance)."""
    red = np.tile([0.62, 0.12, 0.10], (700, 1))
    letters = np.tile([0.97, 0.96, 0.95], (300, 1))
    assert surface_color(np.concatenate([red, letters])) == "red"
    assert color_name(np.median(letters, axis=0)) == "white"  # what the best-lit quarter said
    can = np.concatenate([np.tile([0.08, 0.08, 0.09], (650, 1)), letters[:300]])
    assert surface_color(can) == "black"
    shaded_white = np.tile([0.70, 0.74, 0.86], (500, 1))  # saturation 0.19
    assert surface_color(np.concatenate([shaded_white, letters])) == "white"


def test_surface_colour_hue_boundaries_on_a_real_camera():
    """Warm colours read redder on the RealSense frames (median hue, saturation and value of
    annotated objects there): a red box at 356 degrees, an orange drill at 12, a yellow bottle
    at 42, red plastic at 348 (red, not pink); a pink at 320."""
    import cv2

    def at(hue, sat, value):
        hsv = np.array([[[hue, sat, value]]], np.float32)
        return np.tile(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0], (100, 1))

    seen = [(356, 0.71, 0.58), (12, 0.8, 0.85), (42, 0.65, 0.67), (348, 0.49, 0.69),
            (320, 0.5, 0.8)]
    # the palette alone calls the box and the bottle brown
    assert [color_name(at(*c)[0]) for c in (seen[0], seen[2])] == ["brown", "brown"]
    assert [surface_color(at(*c)) for c in seen] == ["red", "orange", "yellow", "red", "pink"]
    assert surface_color(np.zeros((0, 3))) == "unknown"


def _under(light: str, split: str = "household", index: int = 0):
    """A SpatialBench scene rendered under one of the colour study's lights: the frame and the
    colour each object was given."""
    from dataclasses import replace

    from spatial_ros.bench.colours import LIGHTS
    from spatial_ros.bench.generate import generate_scene
    from spatial_ros.sim.groundtruth import ground_truth
    from spatial_ros.sim.render import Renderer

    world, pose = generate_scene(split, 0, index, width=320, height=240)
    truth = {o.id: o.color for o in ground_truth(world, Renderer(world), pose).objects}
    key, fill = LIGHTS[light]
    return Renderer(replace(world, light_color=key, ambient_color=fill)).render(pose), truth


def test_white_balance_takes_a_lamps_orange_out_and_leaves_neutral_light_alone():
    """Under an uncorrected warm lamp white and grey things read orange and brown; the
    frame's own estimate of the light (shades of grey, along the black-body direction)
    gives them back their names. In neutral light no correction is made."""
    from spatial_ros.colors import balanced, illuminant_gains

    frame, truth = _under("warm lamp, uncorrected")
    gains = illuminant_gains(frame.rgb)
    assert gains[0] == 1.0 and gains[2] > 1.3, gains  # blue raised to red
    raw = right = 0
    for oid, colour in truth.items():
        px = frame.rgb[frame.mask == oid] / 255.0
        if len(px) < 150:
            continue
        raw += surface_color(px) == colour
        right += surface_color(balanced(px, gains)) == colour
    assert right >= raw + 2, (raw, right, len(truth))
    neutral, _truth = _under("neutral")
    np.testing.assert_array_equal(illuminant_gains(neutral.rgb), np.ones(3))


def test_pale_colours_keep_their_hue_name():
    """A pale green mug is not grey: a palette colour mixed half with white, lit from full to
    half, keeps its name (pale cyan and blue excepted: a white in bluish shade reads the same,
    see surface_color's cool_saturation)."""
    shade = np.linspace(0.5, 1.0, 200)[:, None]
    for name in ("red", "green", "yellow", "orange", "purple", "pink"):
        pale = np.array(PALETTE[name]) * 0.5 + 0.5
        assert surface_color(pale * shade) == name, name
    for name in ("blue", "cyan"):  # light blue and cyan, 40 % white: saturation 0.49
        pale = np.array(PALETTE[name]) * 0.6 + 0.4
        assert surface_color(pale * shade) == name, name
        assert surface_color(pale * shade, cool_saturation=0.55) == "white"  # as they read


def test_the_colour_study_scores_each_method_on_the_same_objects():
    from spatial_ros.bench.colours import (
        LIGHTS,
        METHODS,
        PALE,
        format_colour_table,
        run_colour_study,
    )

    scores = run_colour_study(split="household_val", n=2, progress=False)
    totals = {m: scores.total(m)[1] for m in METHODS}
    assert len(set(totals.values())) == 1 and totals["raw pixels"] > 0, totals
    table = format_colour_table(scores)
    assert all(light in table for light in (*LIGHTS, PALE))
    warm = "warm lamp, uncorrected"
    assert scores.accuracy(warm, "white-balanced (default)") > scores.accuracy(warm, "raw pixels")


@pytest.mark.parametrize("args, message", [
    (["--split", "nope"], "--split 'nope': expected one of"),
    (["--n", "0"], "--n 0: at least one scene"),
])
def test_the_colour_study_command_refuses_bad_arguments(args, message):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "spatial_ros.cli", "bench", "colours", *args],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and message in run.stderr, (run.returncode, run.stderr)
