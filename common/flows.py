"""Normalizing flows for a VAE's posterior: q(z | x) richer than a diagonal Gaussian.

The encoder gives a Gaussian sample z_0 ~ q_0(z | x) = N(mu, diag sigma^2) and a context vector h; K
invertible steps, each a function of h too, move it: z_k = f_k(z_{k-1}, h). By the change of variables,
the density of the last one is

    log q(z_K | x) = log q_0(z_0 | x) - sum_k log |det dz_k / dz_{k-1}|

so each step returns its log-determinant, and the sample stays reparameterised (gradients reach mu,
sigma, h and the flow through z_K). The ELBO is taken at z_K: recon = -log p(x | z_K), and the KL term
has no closed form any more; its one-sample estimate is log q(z_K | x) - log p(z_K). The importance
weights of the NLL (common/elbo.py) are likewise

    log w = log p(x | z_K) + log p(z_K) - log q_0(z_0 | x) + sum_k log |det dz_k / dz_{k-1}|

Two kinds: planar steps (Rezende and Mohamed 2015), a bend of z along one direction each, and inverse
autoregressive steps (Kingma et al. 2016), an affine map of each coordinate given the ones before it.
The encoder outputs h next to mu and log sigma^2; h broadcasts against z's leading dims. At initialisation
a planar step is exactly the identity and an IAF step the shrink z -> 0.88 z, so q(z_K | x) starts as a
diagonal Gaussian: a VAE with a flow starts in the plain VAE's family.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

# The w.u at which m(w.u) = -1 + softplus(w.u) is 0: a planar step whose u is parallel to w with this
# w.u has u_hat = m(w.u) w / |w|^2 = 0, the identity.
_PLANAR_IDENTITY_WU = math.log(math.e - 1)


class MaskedLinear(nn.Linear):
    """nn.Linear whose weight is multiplied by a fixed 0/1 mask (out, in): a zero cuts that connection."""

    def __init__(self, n_in, n_out, mask):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder (Germain et al. 2015) with one hidden layer and a context h: outputs m, s
    (..., Z) each, where output i depends on z_0..z_{i-1} and h only (strictly before i).

    Hidden unit k has degree d_k = k mod Z and sees the inputs j < d_k; output i sees the hidden units
    with d_k <= i. Units of degree 0 see no input, only h: they are all output 0 sees (with Z = 1, all
    there is)."""

    def __init__(self, latent_dim, context_dim, hidden_dim):
        super().__init__()
        inputs = torch.arange(latent_dim)
        degrees = torch.arange(hidden_dim) % latent_dim
        self.hidden = MaskedLinear(latent_dim, hidden_dim, inputs[None, :] < degrees[:, None])
        self.context = nn.Linear(context_dim, hidden_dim, bias=False)  # h reaches every hidden unit
        out_mask = (degrees[None, :] <= inputs[:, None]).repeat(2, 1)  # (2Z, hidden): rows of m, then s
        self.out = MaskedLinear(hidden_dim, 2 * latent_dim, out_mask)

    def forward(self, z, h):
        """z (..., Z), h (..., H) broadcasting against z's leading dims -> m, s (..., Z) each."""
        return self.out(F.elu(self.hidden(z) + self.context(h))).chunk(2, dim=-1)


class IAFStep(nn.Module):
    """One inverse autoregressive flow step, the numerically stable LSTM-type update (Kingma et al.
    2016, Sec. 4 and Algorithm 1):

        [m, s] = MADE(z, h);  sigma = sigmoid(s + forget_bias);  z' = sigma * z + (1 - sigma) * m

    z'_i depends on z_<=i only, so dz'/dz is lower triangular with diagonal sigma (m_i and s_i do not
    see z_i): log |det dz'/dz| = sum_i log sigma_i, one pass, no determinant.

    The output layer starts at zero, so m = s = 0 and the step is z' = sigmoid(forget_bias) z: linear,
    the same for every row. A Gaussian q_0 stays Gaussian (the plain VAE's family, its scale shrunk by
    sigmoid(2) = 0.88 a step); the paper initialises s "close to +1 or +2", so that each step only
    slightly updates z and gradients still reach m (through 1 - sigma)."""

    def __init__(self, latent_dim, context_dim, hidden_dim, forget_bias=2.0):
        super().__init__()
        self.made = MADE(latent_dim, context_dim, hidden_dim)
        nn.init.zeros_(self.made.out.weight)
        nn.init.zeros_(self.made.out.bias)
        self.forget_bias = forget_bias

    def forward(self, z, h):
        """z (..., Z), h (..., H) broadcasting against z's leading dims -> z' (..., Z), log_det (...)."""
        m, s = self.made(z, h)
        s = s + self.forget_bias
        sigma = torch.sigmoid(s)
        return sigma * z + (1 - sigma) * m, F.logsigmoid(s).sum(-1)  # logsigmoid: no log(0) for s << 0


class PlanarStep(nn.Module):
    """Planar flow (Rezende and Mohamed 2015, eq. 10-12), with u, w, b a linear map of h:

        z' = z + u_hat tanh(w.z + b)
        log |det dz'/dz| = log |1 + u_hat . psi|,  psi = (1 - tanh^2(w.z + b)) w

    The step is invertible iff w.u_hat >= -1 (appendix A.1); u_hat = u + (m(w.u) - w.u) w / |w|^2 with
    m(a) = -1 + softplus(a) > -1 makes w.u_hat = m(w.u), so 1 + u_hat . psi > 0 for every z.

    A small u alone does not give the identity: for u parallel to w, u_hat = m(w.u) w / |w|^2, and u = 0
    has w.u_hat = m(0) = -0.31. So the weights on h start at zero and the biases put u parallel to w with
    m(w.u) = 0, w.u = log(e - 1): u_hat = 0, exactly the identity (w a random unit vector per step)."""

    def __init__(self, latent_dim, context_dim):
        super().__init__()
        self.latent_dim = latent_dim
        self.params = nn.Linear(context_dim, 2 * latent_dim + 1)  # h -> [u, w, b]
        w = F.normalize(torch.randn(latent_dim), dim=0)
        with torch.no_grad():
            self.params.weight.zero_()
            self.params.bias.copy_(torch.cat([_PLANAR_IDENTITY_WU * w, w, torch.zeros(1)]))

    def amortised(self, h):
        """u_hat, w (..., Z), b (..., 1) for context h (..., H), and 1 + w.u_hat = softplus(w.u) > 0 (..., 1),
        computed without the rounding of w.u_hat."""
        u, w, b = self.params(h).split([self.latent_dim, self.latent_dim, 1], dim=-1)
        wu = (w * u).sum(-1, keepdim=True)
        slack = F.softplus(wu)
        return u + (slack - 1 - wu) * w / w.pow(2).sum(-1, keepdim=True), w, b, slack

    def forward(self, z, h):
        """z (..., Z), h (..., H) broadcasting against z's leading dims -> z' (..., Z), log_det (...)."""
        u_hat, w, b, slack = self.amortised(h)
        t = torch.tanh((w * z).sum(-1, keepdim=True) + b)  # (..., 1)
        # 1 + u_hat . psi = 1 + (1 - t^2) w.u_hat = t^2 + (1 - t^2) softplus(w.u): two terms >= 0, which
        # stays accurate when w.u_hat rounds to -1 (w.u << 0), where 1 + u_hat . psi would round to 0.
        return z + u_hat * t, torch.log(t.pow(2) + (1 - t.pow(2)) * slack).squeeze(-1)


class Flow(nn.Module):
    """`steps` steps of one kind, "iaf" or "planar", amortised by the same context h.

    An IAF step conditions z_i on z_<i only, so between IAF steps the order of the latent dimensions is
    reversed (a permutation: |det| = 1), letting every dimension depend on every other; z_K is returned
    in z_0's order."""

    KINDS = ("iaf", "planar")

    def __init__(self, kind, steps, latent_dim, context_dim, hidden_dim):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown flow {kind!r}; choose one of {self.KINDS}")
        self.kind = kind
        iaf = kind == "iaf"
        self.steps = nn.ModuleList(
            IAFStep(latent_dim, context_dim, hidden_dim) if iaf else PlanarStep(latent_dim, context_dim)
            for _ in range(steps)
        )

    def forward(self, z0, h):
        """z0 (..., Z) and h (..., H), whose leading dims broadcast against z0's: h (B, H) for z0 (B, Z),
        h[:, None] (B, 1, H) for S samples z0 (B, S, Z).
        Returns z_K (..., Z) and sum_k log |det dz_k / dz_{k-1}| (...)."""
        z, log_det = z0, z0.new_zeros(z0.shape[:-1])
        reverse = self.kind == "iaf"
        for k, step in enumerate(self.steps):
            if reverse and k > 0:
                z = z.flip(-1)
            z, step_log_det = step(z, h)
            log_det = log_det + step_log_det
        if reverse and len(self.steps) % 2 == 0 and len(self.steps) > 0:  # an odd number of reversals
            z = z.flip(-1)
        return z, log_det
