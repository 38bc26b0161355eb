"""Mask Preview's ``auto`` tint: the complement of the masked area's mean hue, so it stands out."""

from __future__ import annotations

import colorsys

import pytest
import torch

from smartmask.imageio import load_image
from smartmask.visualize import FALLBACK_TINT, contrasting_color, overlay
from yunet_model import REPO_ROOT


def _hue(rgb) -> float:
    """Hue in degrees."""
    return colorsys.rgb_to_hsv(*rgb)[0] * 360.0


def _solid(rgb, h=32, w=32) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32).expand(1, h, w, 3).contiguous()


@pytest.mark.parametrize("rgb", [(0.9, 0.45, 0.1), (0.1, 0.7, 0.2), (0.15, 0.3, 0.9), (0.8, 0.1, 0.6)])
def test_tint_is_the_complement_of_the_masked_hue(rgb):
    image = _solid(rgb)
    mask = torch.ones(1, 32, 32)
    tint = contrasting_color(image, mask)
    gap = abs((_hue(tint) - _hue(rgb) + 180.0) % 360.0 - 180.0)
    assert gap > 170, f"tint {tint} (hue {_hue(tint):.0f}) is not opposite {rgb} (hue {_hue(rgb):.0f})"
    assert max(tint) == pytest.approx(1.0) and min(tint) == pytest.approx(0.0, abs=1e-6)  # fully saturated


def test_only_the_masked_area_counts_and_grey_falls_back():
    image = _solid((0.9, 0.45, 0.1))
    image[:, :, 16:] = torch.tensor([0.1, 0.7, 0.2])  # orange left, green right
    mask = torch.zeros(1, 32, 32)
    mask[:, :, 16:] = 1.0
    expected = (_hue((0.1, 0.7, 0.2)) + 180.0) % 360.0  # the green half's complement, not the orange's
    got = _hue(contrasting_color(image, mask))
    assert abs((got - expected + 180.0) % 360.0 - 180.0) < 15, (got, expected)
    assert contrasting_color(_solid((0.5, 0.5, 0.5)), torch.ones(1, 32, 32)) == FALLBACK_TINT
    assert contrasting_color(image, torch.zeros(1, 32, 32)) == FALLBACK_TINT


def test_auto_tint_on_the_bundled_suit_is_far_from_its_colour():
    """The bundled example's orange suit: a red tint would hardly show on it; the auto tint does."""
    original = load_image(REPO_ROOT / "examples" / "original.png")
    r, g, b = original[0].unbind(-1)
    suit = ((r > 0.5) & (g < 0.5) & (b < 0.3)).float()[None]
    assert suit.mean() > 0.05
    tint = torch.tensor(contrasting_color(original, suit))
    shown = overlay(original, suit, tuple(tint.tolist()), 0.5, outline=False)
    red = overlay(original, suit, (1.0, 0.2, 0.1), 0.5, outline=False)
    inside = suit[0] > 0.5
    change_auto = (shown[0][inside] - original[0][inside]).norm(dim=-1).mean()
    change_red = (red[0][inside] - original[0][inside]).norm(dim=-1).mean()
    assert change_auto > 2 * change_red, (change_auto, change_red)
