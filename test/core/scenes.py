"""SpatialBench scenes as the class-agnostic tests read them."""
from spatial_ros.bench.relations import match_detections, scene_frames
from spatial_ros.perception import PerceptionConfig


def found_objects(split: str, index: int, sensor: str, *, paint: float = 0.0,
                  dull: float = 0.0, **perception) -> set[str]:
    """Names of the objects of a SpatialBench scene (one 640 x 480 frame, class-agnostic,
    ``paint``: the share of its objects printed, ``dull``: a camera's duller colours,
    ``perception``: PerceptionConfig fields) that a detection of their own finds."""
    *_, sf = scene_frames(split, 0, index, sensor, frames=1, width=640, height=480,
                          use_mask=False, perception=perception, paint=paint, dull=dull)
    names = {k + 1: str(o.name) for k, o in enumerate(sf.world.objects)}
    return {names[g] for g in match_detections(sf.result, sf.frame.mask)}


def gained(split: str, scenes: tuple[int, ...], sensor: str, field: str, off, **perception
           ) -> set[tuple[int, str]]:
    """(scene, name) of the objects found with PerceptionConfig ``field`` at its default and
    not with it at ``off`` (the other ``perception`` fields as given); fails where an object
    found with ``off`` is lost with the default."""
    default = getattr(PerceptionConfig(), field)
    found = {value: {(i, name) for i in scenes
                     for name in found_objects(split, i, sensor, **perception, **{field: value})}
             for value in (off, default)}
    without, with_ = found[off], found[default]
    assert without <= with_, f"{field}: lost {sorted(without - with_)}"
    return with_ - without
