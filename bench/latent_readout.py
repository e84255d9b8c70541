"""What limits a continuous-latent model's recovery on the disease world: its codes, or reading them?

    python bench/latent_readout.py --seeds 5 --config "vae=--model vae" \
        --config "vamp+iwae=--model vae --prior vamp --iw-train 5"

A model without a discrete latent recovers the disease by a Gaussian mixture fitted on its latent
codes, without labels (the run's read-out). Beside it, per seed: logistic regression on the same
codes trained WITH the training labels (how much of the disease the codes hold) and on the raw
symptoms (the supervised ceiling), each as a share of the Bayes-optimal ARI. Figures are printed.
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import disease_dlvm  # noqa: E402
from common import runio  # noqa: E402
from common.evaluate import latent_clusters, latent_codes  # noqa: E402
from common.model_table import build_model  # noqa: E402


def read_outs(flags, seed):
    """ARI / Bayes-optimal ARI of each read-out, for one run of the disease demo with `flags`."""
    world = disease_dlvm.DiseaseWorld()
    with tempfile.TemporaryDirectory() as out:
        argv = [*flags, "--seed", str(seed), "--quiet", "--save-data", "--out", out]
        assert disease_dlvm.main(argv) == 0
        checkpoint = runio.load_model_file(os.path.join(out, "model.pt"), demo="disease")
        train, test = (pd.read_csv(os.path.join(out, f"{part}.csv")) for part in ("train", "test"))
    model = build_model(checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    classes = {name: k for k, name in enumerate(world.class_names)}
    x_train, x_test = (part[world.feature_names].to_numpy(np.float32) for part in (train, test))
    y_train, y_test = (part[world.class_noun].map(classes).to_numpy() for part in (train, test))
    z_train, z_test = (latent_codes(model, torch.as_tensor(x)) for x in (x_train, x_test))
    bayes = adjusted_rand_score(y_test, world.posterior(x_test).argmax(1))

    def supervised(train_rows, test_rows):
        fitted = LogisticRegression(max_iter=2000).fit(train_rows, y_train)
        return adjusted_rand_score(y_test, fitted.predict(test_rows)) / bayes

    unsupervised = latent_clusters(z_train, z_test, world.n_classes, seed)
    return {
        "mixture on codes, no labels": adjusted_rand_score(y_test, unsupervised) / bayes,
        "logistic on codes, with labels": supervised(z_train, z_test),
        "logistic on symptoms, with labels": supervised(x_train, x_test),
    }


def main(argv=None):
    from common.cli import Interval

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=Interval(int, 1, None), default=5, help="seeds 0..N-1 (default: 5)")
    parser.add_argument(
        "--config", action="append", metavar="NAME=FLAGS", help="a configuration (default: vae, vamp+iwae)"
    )
    args = parser.parse_args(argv)
    for config in args.config or []:
        if "=" not in config:
            parser.error(f"argument --config: {config!r} has no NAME=; write e.g. 'vae=--model vae'")
    configs = dict(c.split("=", 1) for c in args.config or [])
    configs = configs or {"vae": "--model vae", "vamp+iwae": "--model vae --prior vamp --iw-train 5"}
    rows = []
    for name, flags in configs.items():
        runs = pd.DataFrame([read_outs(flags.split(), seed) for seed in range(args.seeds)])
        rows.append({"configuration": name} | {k: f"{v.median():.3f} [{v.min():.3f}, {v.max():.3f}]"
                                                  for k, v in runs.items()})  # fmt: skip
    print(f"disease, ARI / Bayes-optimal ARI: median [min, max] over seeds 0..{args.seeds - 1}")
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
