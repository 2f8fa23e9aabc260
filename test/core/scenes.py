"""SpatialBench scenes as the class-agnostic tests read them."""
from spatial_ros.bench.relations import match_detections, scene_frames


def found_objects(split: str, index: int, sensor: str, *, paint: float = 0.0,
                  **perception) -> set[str]:
    """Names of the objects of a SpatialBench scene (one 640 x 480 frame, class-agnostic,
    ``paint``: the share of its objects printed, ``perception``: PerceptionConfig fields)
    that a detection of their own finds."""
    *_, sf = scene_frames(split, 0, index, sensor, frames=1, width=640, height=480,
                          use_mask=False, perception=perception, paint=paint)
    names = {k + 1: str(o.name) for k, o in enumerate(sf.world.objects)}
    return {names[g] for g in match_detections(sf.result, sf.frame.mask)}
