"""How much archetype recovery can any model learn from the movie demo's training users?

The Bayes-optimal ARI classifies held-out users with the world's true parameters. A model has to
learn its parameters from the 4000 training users of a default run, and their sampling noise costs
recovery even when the model's form is exactly right. This benchmark measures that cost: it fits
the world's own model form by maximum likelihood on the demo's training users and classifies the
demo's held-out users with the fitted parameters. The form, per archetype a and movie i:

    p(a) = pi_a,   p(rated_i | a) = sigmoid(w_ai),
    p(stars_i = c | a, rated, l) = ordered logit at location mu_ai + s * l,  l ~ N(0, 1)

(the world's own, with its genre, era and quality structure freed to one parameter per archetype and
movie: a model that sees only the rating matrix does not know the movies' genres). That is
2 x 6 x 160 = 1920 parameters plus the prior, the leniency scale s and 4 shared thresholds, fitted
by L-BFGS on the exact log-likelihood (leniency integrated out on the world's Gauss-Hermite nodes),
started at the true parameters: the best case, where the optimiser is already in the right basin.

Maximum likelihood is not the best any estimator can do with noisy parameters: shrinking them can
classify better. --shrink SIGMA also fits the MAP estimate under a Gaussian prior with standard
deviation SIGMA on each archetype's parameters around the movie's mean over archetypes (an archetype
whose few ratings of a movie say little stays near what the others say), one column per SIGMA.

    python bench/archetype_ceiling.py                 # seeds 0-4, about 2 minutes
    python bench/archetype_ceiling.py --seeds 0 --demo  # and the default movie run beside it
    python bench/archetype_ceiling.py --shrink 2 1 0.5  # and three MAP fits per seed
    python bench/archetype_ceiling.py --users 20000 --demo  # what four times the users allow

Numbers are printed, never judged: this is a benchmark, not a test.
"""

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

USERS, TEST_FRACTION = 5000, 0.2  # movie_dlvm.py's defaults


def demo_split(seed, world, users=USERS):
    """The (train, test) users of `python movie_dlvm.py --seed seed --users users`, drawn as
    common.pipeline draws them."""
    from common.world import split

    rng = np.random.default_rng(seed)
    return split(world.sample(users, rng), TEST_FRACTION, rng)


def true_parameters(world):
    """The world's parameters in the free form above, as float64 tensors that require gradients."""
    import torch

    taste = world.taste(np.arange(world.n_classes))  # (A, I)
    values = {
        "watch": world.watch_intercept + world.watch_slope * taste,  # w_ai
        "location": taste + world.leniency_bias[:, None],  # mu_ai
        "log_scale": np.log(world.leniency_scale),
        "thresholds": world.thresholds,
        "log_prior": np.log(world.prior),
    }
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}


def encode(x):
    """(rated (n, I), one-hot stars of the rated movies (n, I * 5)) of rating rows x (0 = not rated)."""
    import torch

    codes = torch.as_tensor(np.asarray(x), dtype=torch.int64)
    rated = (codes > 0).to(torch.float64)
    stars = torch.nn.functional.one_hot(codes.clamp_min(1) - 1, 5).to(torch.float64) * rated[..., None]
    return rated, stars.flatten(1)


def log_joint(params, rated, stars, world):
    """log p(x, a) per user and archetype, (n, A), the leniency integrated out as world.log_joint does."""
    import torch
    from torch.nn.functional import logsigmoid

    nodes = torch.as_tensor(world.nodes)
    n_classes, n_nodes = params["location"].shape[0], len(nodes)
    inf = torch.full((1,), torch.inf, dtype=torch.float64)
    cuts = torch.cat([-inf, params["thresholds"], inf])  # (6,)
    location = params["location"][:, None, :] + params["log_scale"].exp() * nodes[:, None]  # (A, Q, I)
    cdf = torch.sigmoid(cuts - location[..., None])  # (A, Q, I, 6): P(stars <= c)
    log_p_stars = (cdf[..., 1:] - cdf[..., :-1]).clamp_min(1e-300).log()  # (A, Q, I, 5)
    log_stars = stars @ log_p_stars.reshape(n_classes * n_nodes, -1).T  # (n, A * Q)
    log_stars = log_stars.unflatten(1, (n_classes, n_nodes)) + torch.as_tensor(world.log_node_weights)
    watch = params["watch"]
    log_rated = rated @ logsigmoid(watch).T + (1 - rated) @ logsigmoid(-watch).T  # (n, A)
    return torch.log_softmax(params["log_prior"], 0) + log_rated + torch.logsumexp(log_stars, -1)


def fit(params, rated, stars, world, max_iter=300, shrink=None):
    """Maximum likelihood by L-BFGS from where params start, or with `shrink` (a standard deviation) the
    MAP estimate under N(movie's mean over archetypes, shrink^2) on every watch logit and location;
    returns the mean log-likelihood per user."""
    import torch

    optimizer = torch.optim.LBFGS(
        list(params.values()), max_iter=max_iter, line_search_fn="strong_wolfe", tolerance_change=1e-12
    )

    def closure():
        optimizer.zero_grad()
        loss = -torch.logsumexp(log_joint(params, rated, stars, world), 1).mean()
        if shrink is not None:  # the log prior, per user as the likelihood is
            spread = sum(((params[k] - params[k].mean(0)) ** 2).sum() for k in ("watch", "location"))
            loss = loss + spread / (2 * shrink**2 * len(rated))
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(torch.logsumexp(log_joint(params, rated, stars, world), 1).mean())


def ceiling(seed, shrinks=(), users=USERS):
    """{Bayes-optimal ARI, ARI of the fitted form, training log-likelihood per user at the true and at
    the fitted parameters, and for each of `shrinks` the ARI of that MAP fit} on the held-out users of
    the run `movie_dlvm.py --seed seed --users users`."""
    import torch
    from sklearn.metrics import adjusted_rand_score

    from movie_dlvm import MovieWorld

    world = MovieWorld()
    train, test = demo_split(seed, world, users)
    params = true_parameters(world)
    train_rows, test_rows = encode(train.x), encode(test.x)
    with torch.no_grad():
        at_truth = log_joint(params, *test_rows, world).numpy()
        true_ll = float(torch.logsumexp(log_joint(params, *train_rows, world), 1).mean())
    # The same numbers as the world's own exact computation, or this is not the world's form.
    assert np.allclose(at_truth, world.log_joint(test.x), atol=1e-6), "form differs from the world"
    fitted_ll = fit(params, *train_rows, world)
    with torch.no_grad():
        fitted = log_joint(params, *test_rows, world).numpy()
    result = {
        "bayes_ari": adjusted_rand_score(test.labels, at_truth.argmax(1)),
        "fitted_ari": adjusted_rand_score(test.labels, fitted.argmax(1)),
        "train_ll_true": true_ll,
        "train_ll_fitted": fitted_ll,
    }
    for shrink in shrinks:
        params = true_parameters(world)
        fit(params, *train_rows, world, shrink=shrink)
        with torch.no_grad():
            shrunk = log_joint(params, *test_rows, world).numpy()
        result[f"shrink {shrink:g} / Bayes"] = (
            adjusted_rand_score(test.labels, shrunk.argmax(1)) / result["bayes_ari"]
        )
    return result


def main(argv=None):
    from common.cli import Interval

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds",
        type=Interval(int, 0, None),
        nargs="+",
        default=[0, 1, 2, 3, 4],
        help="seeds (default: 0 1 2 3 4)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also run the default explicit movie demo on each seed and compare its ARI (default: off)",
    )
    parser.add_argument(
        "--users",
        type=Interval(int, 50, None),
        default=USERS,
        help=f"users in the world, a fifth of them held out, as movie_dlvm.py --users (default: {USERS})",
    )
    parser.add_argument(
        "--shrink",
        type=Interval(float, 0, None, closed="neither"),
        nargs="+",
        default=[],
        metavar="SIGMA",
        help="also fit the MAP estimate with this prior standard deviation, one column each (default: none)",
    )
    args = parser.parse_args(argv)
    rows = []
    for seed in args.seeds:
        row = {"seed": seed, **ceiling(seed, args.shrink, args.users)}
        row["fitted / Bayes"] = row["fitted_ari"] / row["bayes_ari"]
        if args.demo:
            from bench.movielens import run_demo

            metrics, _ = run_demo(["--seed", str(seed), "--users", str(args.users)])
            assert np.isclose(metrics["recovery"]["bayes_ari"], row["bayes_ari"]), "not the demo's split"
            row["gmvae / Bayes"] = metrics["recovery"]["ari"] / row["bayes_ari"]
            row["gmvae / fitted"] = metrics["recovery"]["ari"] / row["fitted_ari"]
        rows.append(row)
        print(", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    print("\nmedians over seeds " + " ".join(map(str, args.seeds)) + ":")
    for key in [k for k in rows[0] if "/" in k]:
        print(f"  {key:<16} {statistics.median(r[key] for r in rows):.3f}")


if __name__ == "__main__":
    main()
