"""Freed memory is reused, not taken from the OS again every training step (glibc)."""

import json
import platform
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# A GMVAE's training steps in a fresh process (the allocator's settings are per process): minor page
# faults per step before and after keep_freed_memory(), each after 20 steps of warm-up.
SCRIPT = """
import json, resource, torch
from common.speed.allocator import keep_freed_memory
from common.model_table import build_model
from common.train import adam

torch.manual_seed(0)
torch.set_num_threads(1)
config = {"model": "gmvae", "n_features": 10, "likelihood": "gaussian", "latent_dim": 2, "hidden_dim": 64}
model = build_model({**config, "n_clusters": 7})
optimizer, x = adam(model, 5e-3), torch.randn(256, 10)

def faults_per_step(steps=30):
    def step():
        loss = model.loss_parts(x)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for _ in range(20):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps

default = faults_per_step()
applied = keep_freed_memory()
print(json.dumps({"default": default, "applied": applied, "kept": faults_per_step()}))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_training_steps_stop_taking_memory_from_the_os():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True
    )
    faults = json.loads(result.stdout)
    assert faults["applied"]
    # By default ~25-200 faults a step (0.5 MB blocks mapped afresh); kept, 1-7 (Python's own growth).
    assert faults["kept"] < faults["default"] / 5, faults


def test_elsewhere_it_leaves_the_allocator_alone(monkeypatch):
    from common.speed import allocator

    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    assert allocator.keep_freed_memory() is False
