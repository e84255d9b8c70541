"""The model family as one table: each model's name, its class and what `--help` says about it.

A new model is one class, one row here and its tests: the command line offers it, build_model builds
it from the config stored in model.pt, and the pipeline asks the model what it can do (has_likelihood,
n_clusters, trained_with_labels), never its name. No torch is imported here, so `--help` stays fast.
"""

import importlib
import inspect
from collections import namedtuple

# where: "module:Class". options: the options only some models read, which the others refuse. labelled:
# trains on rows with their class, so no --model choice of its own (a demo with labels offers it:
# cuisine_dlvm.py --conditional). defaults: shared options the model needs set otherwise, where neither
# the user nor the demo's mode has set them. implicit: a recommender only (common/recsys/options.py).
Entry = namedtuple(
    "Entry", "where summary options labelled defaults implicit", defaults=((), False, {}, False)
)

MODELS = {
    "vae": Entry(
        "common.models:VAE",
        "Gaussian latent; --prior vamp and --flow make p(z) and q(z|x) richer",
        ("dropout", "prior", "pseudo_inputs", "flow", "flow_steps", "iw_train"),
    ),
    "gmvae": Entry(
        "common.models:GMVAE",
        "mixture prior with a discrete cluster latent; --labels trains it on a few labelled rows (M2)",
        ("iw_train", "labels", "label_weight"),
    ),
    "hvae": Entry(
        "common.hvae:HVAE",
        "two stochastic layers, p(z2) p(z1|z2) p(x|z1)",
        ("lower_dim", "iw_train"),
        # Without KL warm-up its top layer collapsed in 29 of 30 cuisine runs (docs/extensions.md).
        defaults={"anneal_epochs": 10},
    ),
    "vqvae": Entry(
        "common.vqvae:VQVAE",
        "a codebook of K vectors and a learned prior over them",
        # At --lr 5e-3 the disease world's NLL gap was 0.40 and ARI 0.35 of Bayes; 1e-3: 0.18 and 0.71.
        defaults={"lr": 1e-3},
    ),
    "ae": Entry("common.autoencoders:AE", "deterministic autoencoder baseline", ("dropout",)),
    "dae": Entry(
        "common.autoencoders:DAE", "denoising autoencoder baseline", ("corruption", "noise", "dropout")
    ),
    "cvae": Entry("common.models:CVAE", "conditional VAE: y is the known class", labelled=True),
    "recvae": Entry(
        "common.recvae:RecVAE",
        "RecVAE (Shenbin et al. 2020): composite prior, KL weighted by a user's likes, alternating updates",
        ("dropout", "gamma", "encoder_epochs"),
        implicit=True,
    ),
}
# The options some models read, and what each is when a model that reads it is not told (common/options.py).
MODEL_OPTION_DEFAULTS = {
    "corruption": 0.2,
    "noise": "dropout",
    "prior": "normal",
    "pseudo_inputs": 50,
    "flow": None,
    "flow_steps": 2,
    "iw_train": 1,
    "lower_dim": 8,
    "labels": None,
    # M2's alpha = 0.1 N, N the training rows (Kingma et al. 2014, section 3.1.2)
    "label_weight": 0.1,
    "gamma": 0.005,  # RecVAE's, the reference code's README for ML-20M
    "encoder_epochs": 3,  # RecVAE's passes of encoder updates per decoder pass
}
CHOICES = tuple(name for name, entry in MODELS.items() if not (entry.labelled or entry.implicit))


def models_reading(option):
    """The models that read an option only some read (e.g. --corruption: the dae)."""
    return [name for name, entry in MODELS.items() if option in entry.options]


def model_class(name):
    module, cls = MODELS[name].where.split(":")
    return getattr(importlib.import_module(module), cls)


def model_config(args, n_features, likelihood, n_clusters=None, **architecture):
    """Everything build_model needs, as plain JSON-safe values (stored inside model.pt)."""
    return {
        "demo": args.demo,
        "model": args.model,
        "n_features": n_features,
        "likelihood": likelihood,
        "latent_dim": args.latent_dim,
        "hidden_dim": args.hidden_dim,
        "n_clusters": n_clusters,
        "hidden_layers": args.hidden_layers,
        **{name: getattr(args, name, None) for name in MODEL_OPTION_DEFAULTS},
        **architecture,
    }


def build_model(config):
    """The model a config describes: its class's arguments taken from the config by name (a value of
    None leaves the class's default, so configs written before a setting existed still build)."""
    cls = model_class(config["model"])
    names = [name for name in inspect.signature(cls).parameters if name != "n_features"]
    given = {name: config[name] for name in names if config.get(name) is not None}
    model = cls(config["n_features"], **given)
    model.train_samples = config.get("iw_train") or 1  # how it trains, not what it is: common/elbo.py
    return model
