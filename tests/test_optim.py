"""common.speed.optim.Adam against torch.optim.Adam(fused=True): the same updates, the same state layout."""

import subprocess
import sys

import pytest
import torch

from common.speed.optim import Adam
from tests.conftest import ROOT


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))


def _train(net, optimizer, steps, first=0):
    """Updates with a changing lr; on odd steps the last layer's bias gets no gradient (grad None)."""
    generator = torch.Generator().manual_seed(1)
    batches = [torch.randn(16, 5, generator=generator) for _ in range(first + steps)]
    for step in range(first, first + steps):
        lr = 0.01 * (1 + step % 3)
        if isinstance(optimizer, Adam):
            optimizer.lr = lr
        else:
            optimizer.param_groups[0]["lr"] = lr
        out = net(batches[step])
        loss = out[:, :2].pow(2).sum() + (out[:, 2].sum() if step % 2 == 0 else 0)
        if step % 2 == 1:  # the bias of output 2 only feeds the term left out
            loss = loss + 0 * net[2].weight.sum()
        optimizer.zero_grad()
        loss.backward()
        if step % 2 == 1:
            net[2].bias.grad = None
        optimizer.step()


def test_updates_match_torch_fused_adam():
    ours, theirs = _net(), _net()
    _train(ours, Adam(ours.parameters(), lr=0.01), steps=12)
    _train(theirs, torch.optim.Adam(theirs.parameters(), lr=0.01, fused=True), steps=12)
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("direction", ["torch to ours", "ours to torch"])
def test_state_dict_moves_between_the_two(direction):
    """Six steps with one optimizer, its state_dict loaded into the other, six more: the same weights
    as twelve steps with torch's alone (old checkpoints written by torch.optim.Adam still resume)."""
    reference = _net()
    _train(reference, torch.optim.Adam(reference.parameters(), lr=0.01, fused=True), steps=12)

    net = _net()
    first, second = (
        (torch.optim.Adam(net.parameters(), lr=0.01, fused=True), Adam(net.parameters(), lr=0.5))
        if direction == "torch to ours"
        else (Adam(net.parameters(), lr=0.01), torch.optim.Adam(net.parameters(), lr=0.5, fused=True))
    )
    _train(net, first, steps=6)
    second.load_state_dict(first.state_dict())
    _train(net, second, steps=6, first=6)
    for a, b in zip(net.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_state_of_another_model_is_refused():
    small, big = _net(), torch.nn.Linear(5, 3)
    with pytest.raises(ValueError, match="optimizer state is for 2 parameters, this model has 4"):
        Adam(small.parameters(), lr=0.01).load_state_dict(Adam(big.parameters(), lr=0.01).state_dict())


def test_training_does_not_import_dynamo():
    """The reason this class exists: torch.optim imports torch._dynamo (about a second) on first use."""
    code = (
        "import sys, torch\n"
        "from common.model_table import build_model\n"
        "from common.train import fit\n"
        "config = {'model': 'vae', 'n_features': 4, 'likelihood': 'bernoulli',\n"
        "          'latent_dim': 2, 'hidden_dim': 8}\n"
        "fit(build_model(config), torch.bernoulli(torch.full((64, 4), 0.5)), epochs=2, batch_size=16,\n"
        "    lr=1e-2, beta=1.0, quiet=True)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
