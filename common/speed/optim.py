"""Adam on torch's fused kernel, without torch.optim.Optimizer.

torch.optim.Adam(fused=True) runs one kernel, torch._fused_adam_, for all parameters. Its Optimizer
wrapper costs the demos twice: creating one imports torch._dynamo (about 1.1 s of every run on a 2-core
CPU, more than a default run's figures take), and its step() adds ~0.1 ms of Python per update, a
tenth of a small model's step (bench/speed.py). This class calls the same kernel with the same state,
so the updates are bit for bit those of torch.optim.Adam(fused=True) (tests/test_optim.py), and its
state_dict has torch's layout: checkpoints move between the two.
"""

import torch


class Adam:
    """Adam (Kingma and Ba 2015) with a settable learning rate `lr`; no weight decay, no amsgrad."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, tuple(betas), eps
        self.state = {}  # parameter index -> {"step", "exp_avg", "exp_avg_sq"}, created at its first update

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        """One update of every parameter that has a gradient (as torch.optim: others keep their state)."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        for i in live:
            if i not in self.state:
                p = self.params[i]
                self.state[i] = {
                    "step": torch.zeros((), dtype=torch.float32, device=p.device),
                    "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                }
        states = [self.state[i] for i in live]
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            [self.params[i] for i in live],
            [self.params[i].grad for i in live],
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [],
            steps,
            amsgrad=False,
            lr=self.lr,
            beta1=self.betas[0],
            beta2=self.betas[1],
            weight_decay=0.0,
            eps=self.eps,
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )

    def state_dict(self):
        """torch.optim.Adam's layout: {"state": {index: tensors}, "param_groups": [hyperparameters]}."""
        group = {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": 0.0}
        group |= {"amsgrad": False, "maximize": False, "fused": True, "params": list(range(len(self.params)))}
        return {"state": {i: dict(s) for i, s in self.state.items()}, "param_groups": [group]}

    def load_state_dict(self, state_dict):
        """Continue from a state_dict of this class or of torch.optim.Adam over the same parameters."""
        (group,) = state_dict["param_groups"]
        if len(group["params"]) != len(self.params):
            raise ValueError(
                f"optimizer state is for {len(group['params'])} parameters, this model has {len(self.params)}"
            )
        self.lr, self.betas, self.eps = group["lr"], tuple(group["betas"]), group["eps"]
        self.state = {}
        for i, saved in state_dict["state"].items():
            p = self.params[int(i)]
            self.state[int(i)] = {
                "step": torch.as_tensor(saved["step"], dtype=torch.float32).to(p.device).clone(),
                "exp_avg": saved["exp_avg"].to(p.device, p.dtype).clone(),
                "exp_avg_sq": saved["exp_avg_sq"].to(p.device, p.dtype).clone(),
            }
