"""Exception types of spatial_ros. Every error the library raises on bad input is one of these."""
from __future__ import annotations

__all__ = [
    "SpatialRosError",
    "ImageConversionError",
    "CameraInfoError",
]


class SpatialRosError(Exception):
    """Base class of every error raised by spatial_ros on bad input or bad state."""


class ImageConversionError(SpatialRosError, ValueError):
    """An image message cannot be converted: the message names the field and its values."""


class CameraInfoError(SpatialRosError, ValueError):
    """Camera intrinsics are missing or invalid."""
