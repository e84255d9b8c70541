"""The networks every model is built from: MLPs, the encoder and decoder pair, the layers in front of an
encoder, and the averaging of a loss's parts over a batch."""

from torch import nn
from torch.nn import functional as F


def mlp(sizes, activation=nn.ReLU):
    """Linear + activation layers: mlp([8, 64, 64]) maps 8 -> 64 -> 64, ending with the activation."""
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), activation()]
    return nn.Sequential(*layers)


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class L2Normalize(nn.Module):
    """Scale each row to unit Euclidean length (Mult-VAE's input: long and short histories look alike)."""

    def forward(self, x):
        return F.normalize(x, dim=-1)


def encoder_decoder(n_features, code_size, latent_dim, hidden_dim, outputs_per_feature, hidden_layers=2,
                    activation="relu", normalize_input=False, input_dropout=0.0):  # fmt: skip
    """A VAE's or AE's networks: x -> code_size numbers (q(z|x)'s mean and log-variance, or the code), and
    z -> the head's outputs per feature. Built encoder first: the order their initial weights are drawn."""
    front, act = input_layers(normalize_input, input_dropout), ACTIVATIONS[activation]
    hidden = [hidden_dim] * hidden_layers
    encoder = nn.Sequential(*front, mlp([n_features, *hidden], act), nn.Linear(hidden_dim, code_size))
    decoder = nn.Sequential(
        mlp([latent_dim, *hidden], act), nn.Linear(hidden_dim, n_features * outputs_per_feature)
    )
    return encoder, decoder


def input_layers(normalize_input=False, input_dropout=0.0):
    """Layers in front of an encoder: none by default; Mult-VAE normalises rows, then drops inputs."""
    layers = [L2Normalize()] if normalize_input else []
    return layers + ([nn.Dropout(input_dropout)] if input_dropout > 0 else [])


def mean_parts(recon, kl, beta, weights):
    """The loss and its parts, per-row (B,) averaged over rows; `weights` (B,), when given, counts how
    many training rows each row stands for (common/train.py trains on a batch's distinct rows)."""
    return {
        "loss": row_mean(recon + beta * kl, weights),
        "recon": row_mean(recon, weights),
        "kl": row_mean(kl, weights),
    }


def row_mean(values, weights):
    """The mean of per-row values (B,), each row counted `weights` (B,) times; None: once each."""
    if weights is None:
        return values.mean()
    return (weights * values).sum() / weights.sum()
