"""scripts/segmentation_regions.py: the model's regions from the class-agnostic pipeline's own
segmentation (a rendered SpatialBench scene, the real pipeline and the shipped weights)."""
import importlib.util
import subprocess
import sys

import numpy as np

from spatial_ros.bench.relations import match_detections, scene_frames

from ..conftest import ROOT

SCRIPT = ROOT / "scripts" / "segmentation_regions.py"


def _script():
    spec = importlib.util.spec_from_file_location("segmentation_regions", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _painted_ious(outline_cells: int):
    """SpatialBench test scene 0 (D435, the rules): the painted and the closed-and-grown
    masks, their IoU with the exact mask per matched object, the result and the painting."""
    *_, sf = scene_frames("test", 0, 0, "realsense_d435", frames=1, width=640, height=480,
                          use_mask=False, perception={"segmentation": "geometric",
                                                      "outline_cells": outline_cells})
    res, truth_mask = sf.result, sf.frame.mask
    stride = sf.builder.perception.stride
    paint = _script().segmentation_mask
    seg = paint(res, truth_mask.shape, stride)
    match = match_detections(res, truth_mask)
    assert len(match) >= 3
    grown = paint(res, truth_mask.shape, stride, close=7, grow=9)
    iou = {}
    for name, m in (("painted", seg), ("grown", grown)):
        for gt, track in match.items():
            region, exact = m == track, truth_mask == gt
            iou[name, gt] = (region & exact).sum() / (region | exact).sum()
            if name == "painted":  # the painted cells are the object's: they miss, not spill
                assert (region & exact).sum() / region.sum() > 0.85, (gt, track)
    painted = np.mean([v for (n, _g), v in iou.items() if n == "painted"])
    grown_iou = np.mean([v for (n, _g), v in iou.items() if n == "grown"])
    return painted, grown_iou, res, seg, grown


def test_the_painted_segmentation_covers_each_object_with_its_track_id():
    # without outline_cells the rules' regions stop short of the edges that growing finds
    # (painted IoU 0.69, grown 0.80); the outline cells reach them (painted 0.84, more than
    # grown), and growing then spills past them
    painted, grown_iou, res, seg, grown = _painted_ious(0)
    assert 0.5 < painted < grown_iou, (painted, grown_iou)  # growing finds the missed edges
    ids = {int(t.id) for t, _d in res.detections}
    assert set(np.unique(seg).tolist()) - {0} == ids == set(np.unique(grown).tolist()) - {0}
    # closing and growing fill only pixels no object has: every painted pixel keeps its id
    assert np.array_equal(grown[seg > 0], seg[seg > 0])
    assert (grown > 0).sum() > (seg > 0).sum()
    with_outlines, _grown, *_ = _painted_ious(1)
    assert with_outlines > max(painted + 0.1, grown_iou), (painted, grown_iou, with_outlines)


def test_the_script_tables_a_split_and_names_a_bad_one():
    run = subprocess.run([sys.executable, str(SCRIPT), "--splits", "test", "--n", "1"],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    row = next(r for r in run.stdout.splitlines() if r.startswith("| test |"))
    cells = row.strip("| ").split(" | ")
    assert int(cells[1]) > 100 and 80 < float(cells[2]) <= 100
    for cell in cells[3:]:
        fused, model = (float(x) for x in cell.split(" / "))
        assert 80 < fused <= 100 and 80 < model <= 100
    run = subprocess.run([sys.executable, str(SCRIPT), "--splits", "test,tset"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "unknown split tset" in run.stderr
