"""A lever of docs/speed.md, measured: a mixture prior whose decoder runs once per sample of z (VaDE,
Jiang et al. 2017: q(z|x) shared by the clusters, p(z) = sum_y p(y) N(z | m_y, s_y^2), y read off as
argmax p(y | z)) against the default gmvae, which decodes every row once per cluster (p(x | y, z)).

    python bench/shared_posterior.py              # disease world, seeds 0-2
    python bench/shared_posterior.py --seeds 5

Both on the disease demo's default data (10,000 rows, 20% held out), 2-D z, hidden 64, 50 epochs,
batch 256, lr 5e-3, one thread. VaDE starts as its paper does: 10 epochs, then a Gaussian mixture fitted
on the codes sets the prior, then the other 40. The gmvae is the demo's default run (--cache off).
Prints training seconds, recovery (ARI of the Bayes-optimal classifier's) and the held-out NLL gap.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def vade(seed):
    """(train seconds, ARI / Bayes ARI, NLL gap) of the shared-posterior model on seed's data."""
    import torch
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture
    from torch import nn

    from common.elbo import diagonal_normal_log_prob
    from common.evaluate import held_out_likelihood
    from common.model_table import build_model
    from common.priors import StandardNormal
    from common.train import fit
    from common.world import split
    from disease_dlvm import DiseaseWorld

    class MixturePrior(StandardNormal):
        kind = "mixture"  # not "normal": the VAE then uses log q(z|x) - log p(z) at its sample of z

        def __init__(self, latent_dim, k):
            super().__init__(latent_dim)
            self.logits = nn.Parameter(torch.zeros(k))
            self.mu = nn.Parameter(2.0 * torch.randn(k, latent_dim))
            self.log_var = nn.Parameter(torch.zeros(k, latent_dim))

        def joint(self, z):  # log p(y) + log p(z | y), (..., K)
            return torch.log_softmax(self.logits, -1) + diagonal_normal_log_prob(
                z[..., None, :], self.mu, self.log_var
            )

        def log_prob(self, z, encode=None):
            return torch.logsumexp(self.joint(z), -1)

    torch.set_num_threads(1)
    world, rng = DiseaseWorld(), np.random.default_rng(seed)
    train, test = split(world.sample(10_000, rng), 0.2, rng)
    x_train, x_test = (torch.tensor(s.x, dtype=torch.float32) for s in (train, test))
    torch.manual_seed(seed)
    config = {"model": "vae", "n_features": world.n_features, "likelihood": "bernoulli", "latent_dim": 2}
    model = build_model(config | {"hidden_dim": 64})
    model.prior = MixturePrior(2, world.n_classes)
    started = time.perf_counter()
    fit(model, x_train, epochs=10, batch_size=256, lr=5e-3, beta=1.0, quiet=True)
    with torch.no_grad():
        codes = model.encode_scaled(model.scale(x_train))[0].numpy()
    start = GaussianMixture(world.n_classes, covariance_type="diag", reg_covar=1e-3, random_state=seed).fit(
        codes
    )
    with torch.no_grad():
        model.prior.logits.copy_(torch.log(torch.tensor(start.weights_, dtype=torch.float32)))
        model.prior.mu.copy_(torch.tensor(start.means_, dtype=torch.float32))
        model.prior.log_var.copy_(torch.log(torch.tensor(start.covariances_, dtype=torch.float32)))
    fit(model, x_train, epochs=40, batch_size=256, lr=5e-3, beta=1.0, quiet=True)
    seconds = time.perf_counter() - started
    model.eval()
    with torch.no_grad():
        found = model.prior.joint(model.encode_scaled(model.scale(x_test))[0]).argmax(-1).numpy()
    bayes = adjusted_rand_score(test.labels, world.posterior(test.x).argmax(1))
    gap = held_out_likelihood(model, x_test, 1000)["nll"] + float(world.reference_log_prob(test.x).mean())
    return seconds, adjusted_rand_score(test.labels, found) / bayes, gap


def gmvae(seed, folder):
    """The same three numbers of the demo's default run."""
    out = os.path.join(folder, f"gmvae{seed}")
    argv = ["disease_dlvm.py", "--seed", str(seed), "--quiet", "--cache", "off", "--out", out]
    subprocess.run([sys.executable, *argv], cwd=ROOT, check=True)
    with open(os.path.join(out, "metrics.json")) as f:
        m = json.load(f)
    return (
        m["timing"]["train_seconds"],
        m["recovery"]["ari"] / m["recovery"]["bayes_ari"],
        m["test"]["nll_gap"],
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default: 3)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"argument --seeds: {args.seeds} is not a positive number of seeds; use 1 or more")
    print("| model | seed | train seconds | ARI / Bayes | NLL gap |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.seeds):
            for name, numbers in (
                ("VaDE (decoder once per z)", vade(seed)),
                ("gmvae (default)", gmvae(seed, folder)),
            ):
                print(
                    f"| {name} | {seed} | {numbers[0]:.2f} | {numbers[1]:.3f} | {numbers[2]:.4f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
