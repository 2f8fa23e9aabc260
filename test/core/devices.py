"""The devices a parametrized test runs on: the CPU, and CUDA where a GPU is lent (skipped by
name elsewhere)."""
import pytest
import torch

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)"))]
