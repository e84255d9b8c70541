"""What does each latent dimension mean? Traversals, magnitude of change, and scores against the truth.

Three views, after Higgins et al. (2017) and the recommender work that decodes a movie VAE's latent
factors by the metadata of its recommendations:
- traversal: sweep one latent dimension over [-3, 3] with the others held at a centre, decode;
- magnitude of change: shift dimension i of held-out codes by +/- delta, decode, and measure how
  much the world's reading of the output about factor f moves: the information gain
  KL(p_f(shifted output) || p_f(original output)), averaged over rows and both directions, in nats.
  0 means the dimension does not touch factor f;
- ground truth: the mutual information between each dimension (binned posterior means) and each
  true factor, normalised by the factor's entropy, and the mutual information gap (MIG, Chen et
  al. 2018): per factor, the normalised MI of the best dimension minus that of the second best.
  The plug-in MI of two binned variables is biased upwards by about (bins_a - 1)(bins_b - 1) / 2N
  nats (20 x 20 bins on 1000 held-out rows: 0.18 nats of MI that is not there), so every entropy
  carries the Miller-Madow correction (Miller 1955; Paninski 2003, eq. 4).

The world says how it reads an output: world.output_factors(x) -> {factor: (n, bins) probabilities},
which true factors a row has: world.true_factors(sample) -> {factor: (n,) values}, and, when it has
too many features to show one by one, how they group: world.feature_groups().
"""

import numpy as np
import torch
from scipy.stats import entropy


def traversal(decode, latent_dim, center, z_range=3.0, steps=13):
    """Decoded outputs with one dimension swept at a time: (latent_dim, steps, D), and the grid (steps,)."""
    grid = np.linspace(-z_range, z_range, steps)
    z = np.repeat(np.asarray(center, dtype=float)[None, None], latent_dim, 0).repeat(steps, 1)  # (Z, S, Z)
    for i in range(latent_dim):
        z[i, :, i] = center[i] + grid
    return decode(z.reshape(-1, latent_dim)).reshape(latent_dim, steps, -1), grid


def group_labels(groups):
    """ "group: member" for each member of a world's feature_groups(), {group: {member: indices}}."""
    return [f"{group}: {member}" for group, members in groups.items() for member in members]


def group_means(values, groups):
    """Features averaged within each member of the groups: values (..., D) -> (..., G), in the order
    of group_labels(groups)."""
    return np.stack(
        [values[..., index].mean(-1) for members in groups.values() for index in members.values()], -1
    )


def information_gain(shifted, original):
    """Mean over rows of KL(shifted || original) between per-row distributions (n, bins), in nats."""
    eps = 1e-12  # an empty bin of the original would make KL infinite; smooth it a little
    return float(np.mean(entropy(shifted + eps, original + eps, axis=1)))


def magnitude_of_change(decode, output_factors, z, delta=1.0):
    """Information gain per (latent dimension, factor): a (Z, F) array and the factor names."""
    base = output_factors(decode(z))
    names = list(base)
    gains = np.zeros((z.shape[1], len(names)))
    for i in range(z.shape[1]):
        for sign in (-1.0, 1.0):
            moved = z.copy()
            moved[:, i] += sign * delta
            shifted = output_factors(decode(moved))
            gains[i] += [information_gain(shifted[f], base[f]) / 2 for f in names]
    return gains, names


def discretize(values, bins):
    """Integer codes: discrete values as they are, continuous ones in equal-count (quantile) bins."""
    values = np.asarray(values)
    if values.dtype.kind in "iub" or len(np.unique(values)) <= bins:
        return np.unique(values, return_inverse=True)[1]
    edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return np.digitize(values, edges)


def miller_madow_entropy(codes):
    """Entropy of integer codes (n,) in nats, plug-in plus the Miller-Madow term (m - 1) / 2n, where m
    is the number of values seen: the first-order correction of the plug-in estimate's downward bias."""
    counts = np.bincount(codes)
    counts = counts[counts > 0]
    return float(entropy(counts) + (len(counts) - 1) / (2 * len(codes)))


def mutual_information(a, b):
    """I(a; b) = H(a) + H(b) - H(a, b) of integer codes (n,), each entropy Miller-Madow corrected, in
    nats. Near 0 for independent codes (it can come out a little below 0)."""
    joint = a * (b.max() + 1) + b  # one code per (a, b) pair
    return miller_madow_entropy(a) + miller_madow_entropy(b) - miller_madow_entropy(joint)


def normalised_mutual_information(z, factors, bins=20):
    """I(z_i; f) / H(f) for each latent dimension i and true factor f: a (Z, F) array in [0, 1].

    Both terms are Miller-Madow corrected, so that a dimension that copies a discrete factor scores 1
    and one independent of it about 0 (a negative estimate is reported as 0)."""
    codes = [discretize(z[:, i], bins) for i in range(z.shape[1])]
    scores = np.zeros((z.shape[1], len(factors)))
    for j, values in enumerate(factors.values()):
        target = discretize(values, bins)
        h = miller_madow_entropy(target)  # H(f) in nats
        if h > 0:
            scores[:, j] = [mutual_information(c, target) / h for c in codes]
    return np.clip(scores, 0.0, 1.0)


def mutual_information_gap(scores):
    """MIG: per factor, top normalised MI minus the second; the mean over factors, and the per-factor gaps."""
    ordered = np.sort(scores, axis=0)[::-1]
    gaps = ordered[0] - (ordered[1] if len(ordered) > 1 else 0)
    return float(gaps.mean()), gaps


def names_of_clusters(world, model, test, clusters):
    """Names of a discrete latent's clusters: the classes themselves for a model trained with labels, else
    the class each cluster matches on held-out rows ('cluster 3 ~ influenza'); None without one."""
    from common import evaluate

    if model.trained_with_labels:
        return list(world.class_names)
    if not model.cluster_latent:
        return None
    if world.n_classes == 0:
        return [f"cluster {c + 1}" for c in range(model.n_clusters)]
    mapping = evaluate.cluster_to_class(test.labels, clusters)
    return evaluate.cluster_names(world.class_names, mapping, model.n_clusters)


@torch.no_grad()
def interpret(model, world, test, z_test, device, cluster_names=None, delta=1.0, max_rows=2000):
    """All three views for a trained model on held-out rows.

    Returns (table, summary, traversals): table has one row per (latent dimension, factor) with the
    information gain and, where the factor is known for each row, the normalised mutual information;
    summary goes into metrics.json; traversals feeds the traversal figure. cluster_names names the
    gmvae's clusters (e.g. by the class each matches).
    """
    import pandas as pd

    def decode(z, clusters=None):
        z = torch.as_tensor(z, dtype=torch.float32, device=device)
        if clusters is not None:
            clusters = torch.full((len(z),), clusters, device=device)
            return model.decode_mean(z, clusters).cpu().numpy()
        return model.decode_mean(z).cpu().numpy()

    rows = np.random.default_rng(0).permutation(len(z_test))[:max_rows]  # bounded cost on big test sets
    gains, output_names = np.zeros((model.latent_dim, 0)), []
    if world.output_factors(test.x[:1]) is not None:  # a world to read decoded outputs with
        gains, output_names = magnitude_of_change(decode, world.output_factors, z_test[rows], delta)
    true = world.true_factors(test)
    mi = normalised_mutual_information(z_test, true)
    mig, gaps = mutual_information_gap(mi) if true else (None, np.zeros(0))

    # Traversal centres: the origin (the prior's mode), or each gmvae cluster's (cvae class's) prior mean.
    if model.cluster_latent:
        _, prior_mu, _ = model.prior()
        names = cluster_names or [f"cluster {c + 1}" for c in range(model.n_clusters)]
        centres = {
            names[c]: (prior_mu[c].cpu().numpy(), lambda z, c=c: decode(z, c))
            for c in range(model.n_clusters)
        }
    else:
        centres = {"origin": (np.zeros(model.latent_dim), decode)}
    traversals = {name: traversal(fn, model.latent_dim, centre) for name, (centre, fn) in centres.items()}

    # One row per (latent dimension, factor): a factor may have a reading, a truth, or both.
    cells = {}
    for i in range(model.latent_dim):
        for j, f in enumerate(output_names):
            cells.setdefault((f"z{i + 1}", f), {})["information_gain"] = gains[i, j]
        for j, f in enumerate(true):
            cells.setdefault((f"z{i + 1}", f), {})["normalised_mi"] = mi[i, j]
    table = pd.DataFrame(
        [{"latent_dim": d, "factor": f, **values} for (d, f), values in cells.items()],
        columns=["latent_dim", "factor", "information_gain", "normalised_mi"],
    )
    summary = {
        "delta": delta,
        "information_gain": {f: gains[:, j].round(5).tolist() for j, f in enumerate(output_names)},
        "normalised_mi": {f: mi[:, j].round(5).tolist() for j, f in enumerate(true)},
        "mig": mig,
        "mig_per_factor": dict(zip(true, gaps.round(5).tolist(), strict=True)),
        "best_dimension": {f: f"z{int(np.argmax(mi[:, j])) + 1}" for j, f in enumerate(true)},
    }
    return table, summary, traversals
