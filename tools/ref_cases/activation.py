"""Activations: forward outputs and input gradients from autograd."""
import torch
import torch.nn.functional as F

from ref_cases._layout import arr

ACTS = {  # name -> (enum value in kernels/ops.h, torch function)
    "relu": (1, F.relu),
    "relu6": (2, F.relu6),
    "hswish": (3, F.hardswish),
    "sigmoid": (4, torch.sigmoid),
    "hsigmoid": (5, F.hardsigmoid),
}


def cases():
    out = {}
    # values spread over the kinks at -3, 0, 3 and 6, odd length
    x = torch.linspace(-8.0, 9.0, 1001, dtype=torch.float32)
    x = x + 0.001 * torch.randn(x.shape)
    for name, (code, fn) in ACTS.items():
        xi = x.clone().requires_grad_(True)
        y = fn(xi)
        g = torch.randn_like(y)
        y.backward(g)
        out[f"{name}/code"] = torch.tensor([code], dtype=torch.int32).numpy()
        out[f"{name}/in"] = arr(xi)
        out[f"{name}/out"] = arr(y)
        out[f"{name}/dout"] = arr(g)
        out[f"{name}/din"] = arr(xi.grad)
    return out
