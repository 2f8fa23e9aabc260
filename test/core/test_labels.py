"""Label maps from an upstream detector (spatial_ros.labels) and their names in the graph."""
import json

import numpy as np
import pytest

from spatial_ros.labels import LabelMapError, parse_label_map


@pytest.mark.parametrize("text", [
    "1: mug, 2: Coffee  Bag",
    "1=mug;2=coffee bag",
    "1: mug\n2: coffee bag\n",
    '{"1": "mug", "2": "coffee bag"}',
])
def test_inline_and_json_forms(text):
    assert parse_label_map(text) == {1: "mug", 2: "coffee bag"}


def test_files_yaml_and_json(tmp_path):
    (tmp_path / "labels.yaml").write_text("1: mug\n2: coffee bag\n")
    (tmp_path / "labels.json").write_text(json.dumps({"1": "mug", "2": "coffee bag"}))
    for name in ("labels.yaml", "labels.json"):
        assert parse_label_map(str(tmp_path / name)) == {1: "mug", 2: "coffee bag"}
    assert parse_label_map("") == {}


@pytest.mark.parametrize("text, reason", [
    ("mug, bowl", "parameter label_map: unknown label-map format 'mug, bowl'"),
    ("1: mug, bowl", "'bowl' is not 'id: name'"),
    ("[1, 2]", "unknown label-map format"),
    ('{"1": "mug",}', "not valid JSON"),
    ('{"a": "mug"}', "id 'a' is not an integer"),
    ("0: background", "id 0 is not a positive integer"),
    ('{"3": ""}', "id 3 has no name"),
    ("/nonexistent/labels.yaml", "label-map file /nonexistent/labels.yaml does not exist"),
])
def test_bad_label_maps_name_their_source(text, reason):
    with pytest.raises(LabelMapError) as err:
        parse_label_map(text, source="parameter label_map")
    assert reason in str(err.value) and "parameter label_map" in str(err.value)


def test_a_yaml_file_that_is_no_mapping(tmp_path):
    (tmp_path / "l.yaml").write_text("- mug\n- bowl\n")
    with pytest.raises(LabelMapError, match="expected a mapping of id: name, got list"):
        parse_label_map(str(tmp_path / "l.yaml"))


def test_the_builder_names_mask_ids_and_reports_ids_the_mask_lacks():
    """A real frame with its hand-drawn mask as a detector's output."""
    from spatial_ros.bench.real import D435_NOISE, load_real_frames
    from spatial_ros.perception.gravity import PlaneGravityConfig, gravity_from_plane
    from spatial_ros.pipeline import SceneGraphBuilder
    from spatial_ros.relations import RelationConfig

    frame = load_real_frames()[0]
    pose = gravity_from_plane(frame.depth, frame.intrinsics,
                              PlaneGravityConfig(noise_quadratic=D435_NOISE))[0]
    builder = SceneGraphBuilder(relations=RelationConfig(noise_quadratic=D435_NOISE))
    labels = {1: "mustard bottle", 2: "drill", 42: "ghost"}
    result = builder.process(frame.rgb, frame.depth, frame.intrinsics, pose, 0.0, frame.mask,
                             labels)
    assert result.unmatched_labels == [42]
    by_instance = {t.instance: t for t, _d in result.detections}
    assert by_instance[1].label == "mustard bottle" and by_instance[2].label == "drill"
    names = {o.label for o in result.graph.objects}
    assert {"mustard bottle", "drill"} <= names and "ghost" not in names
    assert len(names - {"mustard bottle", "drill"}) >= 1  # the unnamed keep a shape word
    # the next frame without names keeps them (a detector that names only some frames)
    again = builder.process(frame.rgb, frame.depth, frame.intrinsics, pose, 0.2, frame.mask)
    assert {"mustard bottle", "drill"} <= {o.label for o in again.graph.objects}
    assert again.unmatched_labels == []
    assert np.isfinite([o.centroid for o in again.graph.objects]).all()
