"""The few lines a person reads at the end of a run, from its metrics."""

# Below this share of the importance samples effective (median over rows), q(z|x) covers p(z|x) poorly and
# the estimate's bias, which its standard error does not count, can exceed it (Burda et al. 2016).
LOW_ESS = 0.25


def monte_carlo_line(test):
    """Which digits of the NLL are real: its Monte Carlo error, the effective samples per row and, for a
    model trained on a K-sample bound (--iw-train), that bound beside the ELBO."""
    if test["iw_ess"]["min"] > test["iw_samples"] * (1 - 1e-4):  # every weight equal: nothing sampled
        line = "    the NLL is exact: each row's importance weights are all equal (no Monte Carlo noise)"
    else:
        line = (
            f"    Monte Carlo s.e. of the NLL {test['nll_mc_se']:.4f}; effective samples per row: median "
            f"{test['iw_ess']['median']:.0f}, min {test['iw_ess']['min']:.0f} of {test['iw_samples']}"
        )
    if test["iw_ess"]["median"] < LOW_ESS * test["iw_samples"]:
        line += (
            "\n    few effective samples: the NLL may sit above the model's true NLL by more than its s.e. "
            "(a looser bound); more --iw-samples tighten it"
        )
    if "iw_bound" in test:
        line += f"\n    trained bound (K = {test['iw_train']}) {test['iw_bound']:.4f}"
        line += f"   ELBO {test['elbo']:.4f}"
    return line


def model_name(metrics):
    """'vae', or with the options that make it another model than the plain one: 'vae (--prior vamp,
    --flow iaf)'."""
    from common.cli import flag_name
    from common.model_table import MODEL_OPTION_DEFAULTS

    plain = MODEL_OPTION_DEFAULTS | {"hidden_layers": None}  # the demo's own depth is no extension
    changed = [
        f"{flag_name(name)} {value}"
        for name, value in metrics.get("model_options", {}).items()
        if value != plain.get(name) and name != "hidden_layers"
    ]
    return metrics["model"] + (f" ({', '.join(changed)})" if changed else "")


def collapse_line(usage):
    """Posterior collapse, named: the latent dimensions whose KL against the prior is below the threshold
    on held-out rows (metrics.json's test.latent_usage)."""
    inactive, n = usage["inactive"], len(usage["kl_per_dim"])
    verb = "carries" if len(inactive) == 1 else "carry"
    where = "" if len(inactive) == n else f" in {len(inactive)} of {n} latent dimensions"
    each = ", ".join(f"z{d + 1} {kl:.3f}" for d, kl in enumerate(usage["kl_per_dim"][:8]))
    return (
        f"  posterior collapse{where}: {', '.join(inactive)} {verb} almost no information "
        f"(KL < {usage['threshold']:g} nats per row; per dimension: {each})"
    )


def clusters_line(clusters):
    """A discrete latent that leaves clusters empty (metrics.json's clusters: in_use of k), or None."""
    if clusters.get("in_use", clusters.get("k", 0)) >= clusters.get("k", 0):
        return None
    return (
        f"  clusters in use: {clusters['in_use']} of {clusters['k']} (the others hold under 1% of the rows)"
    )


def interpret_line(section):
    """--interpret's headline (metrics.json's `interpret`): MIG, the dimension most informative about each
    true factor, and the one that moves each factor read off the decoded output most."""
    parts = []
    if section.get("mig") is not None:
        parts.append(f"MIG {section['mig']:.2f}")
    best = [
        f"{factor} {dim} {section['normalised_mi'][factor][int(dim[1:]) - 1]:.2f}"
        for factor, dim in section.get("best_dimension", {}).items()
    ]
    if best:
        parts.append("best dimension by normalised MI: " + ", ".join(best))
    gains = [
        f"{factor} z{max(range(len(values)), key=values.__getitem__) + 1} {max(values):.2f}"
        for factor, values in section.get("information_gain", {}).items()
        if values
    ]
    if gains:
        parts.append("by information gain: " + ", ".join(gains) + " nats")
    return "  interpret: " + ("; ".join(parts) if parts else "no factor to read") + " (interpret.csv)"


def summary(metrics, world, out, extra_lines=()):
    """A few lines a person reads at the end of a run."""
    test, timing = metrics["test"], metrics["timing"]
    trained = "loaded" if "loaded_from" in metrics else f"trained in {timing['train_seconds']:.1f} s"
    lines = [
        f"{world.name}: {model_name(metrics)} on {metrics['data']['n_train']} training rows, "
        f"{trained} ({timing['total_seconds']:.1f} s with data and evaluation)",
        *likelihood_lines(test),
    ]
    if test.get("latent_usage", {}).get("inactive"):
        lines.append(collapse_line(test["latent_usage"]))
    if clusters_line(metrics.get("clusters", {})):
        lines.append(clusters_line(metrics["clusters"]))
    if metrics["data"].get("adapted_to_table"):
        lines.append(fitted_line(metrics["data"]["adapted_to_table"]))
    if "model_selection" in metrics:
        lines.append(f"  clusters chosen: K = {metrics['model_selection']['best_k']}")
    if metrics.get("recovery"):
        lines.append(recovery_line(metrics, world))
    if "semi_supervised" in metrics:
        from common.semi_supervised import summary_lines

        lines += summary_lines(metrics["semi_supervised"], world.class_noun, metrics["data"]["n_train"])
    if "anomalies" in metrics:
        from common.anomalies import summary_line

        lines.append(summary_line(metrics["anomalies"]))
    if metrics.get("interpret"):
        lines.append(interpret_line(metrics["interpret"]))
    lines += [*extra_lines, f"  results in {out}"]
    return "\n".join(lines)


def likelihood_lines(test):
    """The held-out NLL beside the world's (or the ELBO, without a world), or an autoencoder's error."""
    if "true_nll" in test:
        gap = f"world's true NLL {test['true_nll']:.4f}   gap {test['nll_gap']:+.4f}"
        return [f"  held-out NLL {test['nll']:.4f} nats/row   {gap}", monte_carlo_line(test)]
    if "nll" in test:
        no_world = f"ELBO {test['elbo']:.4f} (no world: no true NLL)"
        return [f"  held-out NLL {test['nll']:.4f} nats/row   {no_world}", monte_carlo_line(test)]
    if "recon" in test:
        name, value = next((k, v) for k, v in test["recon"].items() if not k.endswith("per_feature"))
        return [
            f"  reconstruction {name} {value:.3f} on held-out rows (an autoencoder: no likelihood, no NLL)"
        ]
    return []


def fitted_line(fitted):
    """The defaults a --data run fitted to its table (common/data.py: adapt_to_table), with the reasons."""
    from common.cli import flag_name

    each = ", ".join(f"{flag_name(k)} {v['value']} ({v['why']})" for k, v in fitted.items())
    return f"  defaults fitted to the table: {each}"


def recovery_line(metrics, world):
    """Recovery (or classification, for a model trained with labels) beside the Bayes-optimal and the
    best baseline."""
    rec = metrics["recovery"]
    task = "classification (trained with labels)" if rec.get("supervised") else "recovery"
    task = "classification (trained with --labels)" if "semi_supervised" in metrics else task
    line = f"  {world.class_noun} {task} ARI {rec['ari']:.3f}"
    if "bayes_ari" in rec:
        line += f"   Bayes-optimal {rec['bayes_ari']:.3f} ({rec['ari'] / rec['bayes_ari']:.0%} of it)"
    scored = {name: b for name, b in metrics["baselines"].items() if "ari" in b}
    if scored:
        best_name, best = max(scored.items(), key=lambda item: item[1]["ari"])
        line += f"   best baseline {best_name} {best['ari']:.3f}"
    return line
