"""torch.optim.SGD (dampening 0) over several steps: momentum 0.9 with and
without Nesterov, and plain SGD. Two parameter groups: weight decay on
tensors a and c, excluded (weight_decay 0) on b and d. Tensors c and d get no
gradient (grad None, so torch skips them) in some steps."""
import numpy as np
import torch

from ref_cases._layout import arr, ints

SIZES = {"a": 37, "b": 13, "c": 21, "d": 8}
DECAYED = ("a", "c")
# has_grad[step][tensor] in the order of SIZES.
HAS_GRAD = [
    [1, 1, 1, 0],
    [1, 1, 0, 1],
    [1, 1, 0, 1],
    [1, 1, 1, 0],
    [1, 1, 1, 1],
]
LR, WEIGHT_DECAY = 0.1, 0.01
# name: (momentum, nesterov)
CONFIGS = {"momentum": (0.9, False), "nesterov": (0.9, True), "plain": (0.0, False)}


def snap(t):
    """A copy: arr() shares memory with t, which the optimizer updates in place."""
    return arr(t).copy()


def run(out, name, momentum, nesterov):
    p = f"{name}/"
    params = {k: torch.randn(n).requires_grad_(True) for k, n in SIZES.items()}
    out[p + "config"] = np.array([LR, momentum, WEIGHT_DECAY], dtype=np.float32)
    out[p + "nesterov"] = ints(int(nesterov))
    for k, t in params.items():
        out[p + f"init/{k}"] = snap(t)
    groups = [
        {"params": [params[k] for k in SIZES if k in DECAYED], "weight_decay": WEIGHT_DECAY},
        {"params": [params[k] for k in SIZES if k not in DECAYED], "weight_decay": 0.0},
    ]
    opt = torch.optim.SGD(groups, lr=LR, momentum=momentum, nesterov=nesterov)
    for step, mask in enumerate(HAS_GRAD):
        for (k, t), has in zip(params.items(), mask):
            if has:
                g = torch.randn(SIZES[k]) * 0.5
                t.grad = g.clone()
                out[p + f"step{step}/grad/{k}"] = snap(g)
            else:
                t.grad = None
        opt.step()
        for k, t in params.items():
            out[p + f"step{step}/param/{k}"] = snap(t)
            state = opt.state[t]
            if state.get("momentum_buffer") is not None:
                out[p + f"step{step}/buf/{k}"] = snap(state["momentum_buffer"])
    out[p + "has_grad"] = np.array(HAS_GRAD, dtype=np.int32)


def cases():
    out = {}
    for name, (momentum, nesterov) in CONFIGS.items():
        run(out, name, momentum, nesterov)
    return out
