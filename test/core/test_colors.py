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
