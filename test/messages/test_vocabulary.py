"""The predicate vocabulary of msg/SpatialRelation.msg and spatial_ros/vocabulary.py agree."""
import re

from spatial_ros import vocabulary
from spatial_ros.msg import SpatialRelation

from ..conftest import ROOT

MSG_FILE = ROOT / "msg" / "SpatialRelation.msg"


def _msg_constants(kind: str) -> dict[str, str]:
    pat = re.compile(rf"^{kind}\s+([A-Z_]+)\s*=\s*(\S+)", re.M)
    return {name: value.strip('"') for name, value in pat.findall(MSG_FILE.read_text())}


def test_predicates_in_msg_file_match_core():
    consts = _msg_constants("string")
    assert list(consts.values()) == list(vocabulary.PREDICATES)
    assert all(name == value.upper() for name, value in consts.items())


def test_generated_class_constants_match_core():
    generated = [getattr(SpatialRelation, p.upper()) for p in vocabulary.PREDICATES]
    assert generated == list(vocabulary.PREDICATES)
    declared = {k for k in _msg_constants("string")}
    assert declared == {p.upper() for p in vocabulary.PREDICATES}


def test_frames_and_sources_match_core():
    consts = _msg_constants("uint8")
    for frame in vocabulary.Frame:
        assert int(consts[f"FRAME_{frame.name}"]) == frame.value
        assert getattr(SpatialRelation, f"FRAME_{frame.name}") == frame.value
    for source in vocabulary.Source:
        assert int(consts[f"SOURCE_{source.name}"]) == source.value
        assert getattr(SpatialRelation, f"SOURCE_{source.name}") == source.value


def test_vocabulary_is_complete_and_consistent():
    required = {"left_of", "right_of", "above", "below", "in_front_of", "behind", "near",
                "far_from", "on_top_of", "under", "inside", "contains", "occludes",
                "larger_than", "smaller_than"}
    assert required <= set(vocabulary.PREDICATES)
    for p, q in vocabulary.INVERSE.items():
        if q is not None:
            assert vocabulary.INVERSE[q] == p
