"""Checkpoints name the relation head's outputs; loading one trained on another decision
vocabulary (reordered, longer) is refused, naming the first outputs that differ."""
import pytest
import torch

from spatial_ros.model.checkpoint import (
    _UNNAMED_DECISIONS,
    CheckpointError,
    decision_names,
    load_model,
    save_checkpoint,
)
from spatial_ros.model.infer import SHIPPED_WEIGHTS
from spatial_ros.model.network import ModelConfig, SpatialNet
from spatial_ros.vocabulary import DECISION_KEYS

TINY = ModelConfig(dim=16, layers=1, heads=2, image_height=32, image_width=32)


def test_checkpoints_store_the_decision_names_and_load_them(tmp_path):
    save_checkpoint(tmp_path / "m.pt", SpatialNet(TINY))
    ck = torch.load(tmp_path / "m.pt", weights_only=True)
    assert ck["decisions"] == decision_names() and len(ck["decisions"]) == len(DECISION_KEYS)
    load_model(tmp_path / "m.pt")


def test_a_reordered_vocabulary_is_refused(tmp_path):
    save_checkpoint(tmp_path / "m.pt", SpatialNet(TINY))
    ck = torch.load(tmp_path / "m.pt", weights_only=True)
    names = list(ck["decisions"])
    names[0], names[2] = names[2], names[0]  # left_of / right_of swapped
    ck["decisions"] = names
    torch.save(ck, tmp_path / "swapped.pt")
    with pytest.raises(CheckpointError, match="another decision vocabulary.*output 0: "
                                              "checkpoint 'right_of/egocentric'"):
        load_model(tmp_path / "swapped.pt")


def test_checkpoints_without_names_are_read_as_the_vocabulary_they_were_trained_on(tmp_path):
    assert _UNNAMED_DECISIONS == decision_names()
    assert "decisions" not in torch.load(SHIPPED_WEIGHTS, weights_only=True)
    load_model(SHIPPED_WEIGHTS)
