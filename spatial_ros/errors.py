"""Exception types of spatial_ros. Every error the library raises on bad input is one of these."""
from __future__ import annotations

__all__ = [
    "SpatialRosError",
    "ImageConversionError",
    "CameraInfoError",
    "SdfError",
    "BenchError",
    "GravityError",
]


class SpatialRosError(Exception):
    """Base class of every error raised by spatial_ros on bad input or bad state."""


class ImageConversionError(SpatialRosError, ValueError):
    """An image message cannot be converted: the message names the field and its values."""


class CameraInfoError(SpatialRosError, ValueError):
    """Camera intrinsics are missing or invalid."""


class SdfError(SpatialRosError, ValueError):
    """An SDF world cannot be loaded or rendered: names the file, the element and what was
    expected."""


class BenchError(SpatialRosError, ValueError):
    """Bad SpatialBench arguments or data."""


class GravityError(SpatialRosError, ValueError):
    """Which way is up cannot be told: an IMU without gravity, a frame with no support plane."""
