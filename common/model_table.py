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
# cuisine_dlvm.py --conditional).
Entry = namedtuple("Entry", "where summary options labelled", defaults=((), False))

MODELS = {
    "vae": Entry("common.models:VAE", "Gaussian latent", ("dropout",)),
    "gmvae": Entry("common.models:GMVAE", "mixture prior with a discrete cluster latent"),
    "ae": Entry("common.models:AE", "deterministic autoencoder baseline", ("dropout",)),
    "dae": Entry("common.models:DAE", "denoising autoencoder baseline", ("corruption", "noise", "dropout")),
    "cvae": Entry("common.models:CVAE", "conditional VAE: y is the known class", labelled=True),
}
CHOICES = tuple(name for name, entry in MODELS.items() if not entry.labelled)


def models_reading(option):
    """The models that read an option only some read (e.g. --corruption: the dae)."""
    return [name for name in CHOICES if option in MODELS[name].options]


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
        "corruption": args.corruption,
        "noise": args.noise,
        **architecture,
    }


def build_model(config):
    """The model a config describes: its class's arguments taken from the config by name (a value of
    None leaves the class's default, so configs written before a setting existed still build)."""
    cls = model_class(config["model"])
    names = [name for name in inspect.signature(cls).parameters if name != "n_features"]
    return cls(config["n_features"], **{name: config[name] for name in names if config.get(name) is not None})
