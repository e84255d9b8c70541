"""Options of a recommender run (implicit feedback over folds) and of MovieLens files, declared once.

A demo with a recommender mode composes them with its own (movie_dlvm.py). Their defaults follow
Mult-VAE's paper (Liang et al. 2018, Sec. 4.3) where it applies; docs/movielens.md gives the measurements.
"""

import functools
import os
from dataclasses import dataclass
from typing import ClassVar

from common.cli import Interval, UsageError, flag_name, option
from common.model_table import MODEL_OPTION_DEFAULTS, MODELS
from common.options import RunOptions

_files = functools.partial(option, group="real data: MovieLens (implicit feedback)")
_ranking = functools.partial(option, group="implicit feedback")
REAL_DATA_COMPONENTS = 20  # the mixture baseline's best K on ML-100K (docs/movielens.md)
RATINGS_FILES = "u.data, ratings.dat or ratings.csv"
TITLES_FILES = "u.item, movies.dat or movies.csv"


@dataclass
class MovieLensOptions(RunOptions):
    """A MovieLens ratings file, and its titles, in place of a synthetic world."""

    WORLD_SIZES: ClassVar[tuple] = ()  # a demo's options that size its synthetic world: not for a file

    ratings: str | None = _files(
        None,
        f"a MovieLens ratings file ({RATINGS_FILES}) instead of the synthetic world",
        metavar="PATH",
        shown="none, the synthetic world",
    )
    titles: str | None = _files(
        None,
        f"the matching titles file ({TITLES_FILES}), for recommendations with names and genres",
        metavar="PATH",
        shown="the titles file beside --ratings, if there is one",
    )

    def check(self):
        """The files exist; --titles defaults to the titles file beside --ratings."""
        from common.recsys.movielens import TITLES_FILES as NAMES

        if self.ratings is None:
            if self.titles is not None:
                raise UsageError("--titles", "goes with --ratings; the synthetic world names its own movies")
            return super().check()
        for name in self.WORLD_SIZES:
            if name in self.given:
                raise UsageError(
                    flag_name(name), "sizes the synthetic world; with --ratings the file decides"
                )
        if self.titles is None:
            folder = os.path.dirname(os.path.abspath(self.ratings))
            beside = [
                os.path.join(folder, name) for name in NAMES if os.path.isfile(os.path.join(folder, name))
            ]
            self.titles = beside[0] if beside else None
        for flag, path, names in (
            ("--ratings", self.ratings, RATINGS_FILES),
            ("--titles", self.titles, TITLES_FILES),
        ):
            if path is not None and os.path.isdir(path):
                raise UsageError(flag, f"{path!r} is a folder; give the file inside it ({names})")
            if path is not None and not os.path.isfile(path):
                raise UsageError(flag, f"no such file: {path!r}")
        super().check()


# The models that rank items here (common/recsys/scoring.py reads each one's reconstruction).
RECOMMENDERS = ("vae", "dae", "ae", "gmvae", "recvae")


@dataclass
class RecommenderOptions(RunOptions):
    """Implicit feedback: rank items for held-out users, trained and scored over folds."""

    # Shared options a recommender run has no use for, and why.
    REFUSED: ClassVar[dict] = {
        "iw_samples": "there is no held-out likelihood in the implicit mode, only rankings",
        "clusters": "the implicit mode's clusters (of the gmvae and the mixture baseline) are "
        "--mixture-components",
        "restarts": "the implicit mode trains one model per fold",
        "anneal_epochs": "the implicit mode anneals per update: use --anneal-steps",
        "corruption": "the implicit mode's input corruption is --dropout",
        "noise": "the implicit mode's input corruption is --dropout",
        "interpret": "reads a latent space against the synthetic world's factors, in the explicit mode only; "
        "implicit-feedback runs have none to read it against",
        "load": "the implicit mode trains and scores a model per fold of held-out users and cannot "
        "evaluate a saved one; drop --load",
        "resume": "implicit-feedback runs keep no optimizer or fold state to continue from; run it again",
        "anomalies": "scores rows by their held-out likelihood, and the implicit mode has none (only "
        "rankings); use the explicit ratings (the default --likelihood)",
        **dict.fromkeys(
            ("labels", "label_weight"),
            "the implicit mode has no classes to learn from; --labels runs on the explicit ratings, whose "
            "users have a taste archetype",
        ),
        **dict.fromkeys(
            ("prior", "pseudo_inputs", "flow", "flow_steps", "lower_dim", "iw_train"),
            "the implicit mode's recommenders are Mult-VAE, Mult-DAE, the Mult-GMVAE and RecVAE "
            "(docs/movielens.md); the model extensions run on the explicit ratings (docs/models.md)",
        ),
    }

    model: str = option(
        "vae",
        "the recommender; " + "; ".join(f"{name}: {MODELS[name].summary}" for name in RECOMMENDERS),
        group="model",
        choices=RECOMMENDERS,
    )
    folds: int = _ranking(
        1,
        "train and score F times, each on a different disjoint set of held-out users (--test-fraction of all "
        "users); metrics are means with standard deviations over folds",
        type=Interval(int, 1, None),
        metavar="F",
    )
    dropout: float = _ranking(
        0.5,
        "share of a user's items hidden from the encoder in each training step, in [0, 1): Mult-VAE's and "
        "Mult-DAE's input dropout; not for the gmvae",
        type=Interval(float, 0, 1, closed="left"),
        metavar="P",
    )
    anneal_steps: int = _ranking(
        700,
        "raise the KL weight beta linearly from 0 to --beta over the first N gradient updates; 0 starts "
        "at --beta",
        type=Interval(int, 0, None),
        metavar="N",
    )
    ease_lambda: float = _ranking(
        500.0,
        "L2 penalty of the EASE baseline (Steck 2019)",
        type=Interval(float, 0, None, closed="neither"),
        metavar="L",
    )
    ease_max_items: int = _ranking(
        10000,
        "skip EASE, with a message, above N items: it holds three dense N x N matrices, 2.4 GB at "
        "10000 items, 9.7 GB for ML-20M",
        type=Interval(int, 1, None),
        metavar="N",
    )
    gamma: float | None = _ranking(
        None,
        "recvae only: the KL weight per liked item; a user's KL term is weighted gamma x their likes",
        type=Interval(float, 0, None, closed="neither"),
        metavar="G",
        shown=str(MODEL_OPTION_DEFAULTS["gamma"]),
    )
    encoder_epochs: int | None = _ranking(
        None,
        "recvae only: passes of encoder updates per pass of decoder updates; an epoch is both",
        type=Interval(int, 1, None),
        metavar="N",
        shown=str(MODEL_OPTION_DEFAULTS["encoder_epochs"]),
    )
    mixture_components: int | None = _ranking(
        None,
        "components of the mixture of multinomials, the classical latent class model of the likes (a ranking "
        "baseline, fitted by EM), and clusters of the gmvae, which starts from it",
        type=Interval(int, 1, None),
        metavar="K",
        shown=f"a synthetic world's number of classes; {REAL_DATA_COMPONENTS} on real data",
    )

    def check(self):
        for name, reason in self.REFUSED.items():
            if name in self.given:
                raise UsageError(flag_name(name), reason)
        if "dropout" in self.given and "dropout" not in MODELS[self.model].options:
            raise UsageError(
                "--dropout", f"Mult-VAE's and Mult-DAE's input dropout; the {self.model} reads rows whole"
            )
        if self.folds * self.test_fraction >= 1:
            raise UsageError(
                "--folds",
                f"{self.folds} disjoint folds of --test-fraction {self.test_fraction} would hold out "
                "every user; lower one of them",
            )
        super().check()

    def resumable(self, folder):
        raise UsageError(
            "--resume",
            f"{folder} is an implicit-feedback run, which keeps no optimizer or fold state to continue from; "
            "run it again",
        )
