"""Colour names survive shading: brightness is compared as a ratio."""
import pytest

from spatial_ros.colors import PALETTE, color_name


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
