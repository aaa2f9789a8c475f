"""BatchNorm2d: training forward (output, saved mean and 1/sqrt(var+eps),
running-stat update), inference forward, and the training backward
(din, dgamma, dbeta) from autograd. NCHW in torch, NHWC in the files."""
import numpy as np
import torch
import torch.nn.functional as F

from ref_cases._layout import arr, ints, nhwc

# name: (batch, h, w, channels, affine, track_running_stats, eps, input shift, input scale)
TRAIN = {
    "n4_h5_w3_c20_affine": (4, 5, 3, 20, True, True, 1e-5, 0.0, 1.0),
    "n1_h7_w7_c5_affine": (1, 7, 7, 5, True, True, 1e-5, 0.5, 2.0),    # batch 1, spatial > 1
    "n3_h2_w2_c36_plain": (3, 2, 2, 36, False, True, 1e-5, 0.0, 1.0),  # 2x2 map, non-affine
    "n2_h9_w11_c13_norunning": (2, 9, 11, 13, True, False, 1e-3, -1.0, 0.5),
    "n1_h2_w2_c7_plain_norunning": (1, 2, 2, 7, False, False, 1e-5, 0.0, 1.0),  # 4 rows
    "n8_h28_w28_c12_shifted": (8, 28, 28, 12, True, True, 1e-5, 3.0, 2.0),  # 6272 rows, |mean| > std
}
INFER = {
    "n2_h3_w5_c20_affine": (2, 3, 5, 20, True, 1e-5),
    "n1_h4_w4_c7_plain": (1, 4, 4, 7, False, 1e-3),
    "n3_h2_w2_c36_affine": (3, 2, 2, 36, True, 1e-5),
}
MOMENTUM = 0.1


def per_channel(n, lo, hi):
    return torch.empty(n).uniform_(lo, hi)


def train_case(out, name, batch, h, w, c, affine, running, eps, shift, scale):
    p = f"train/{name}/"
    x = (torch.randn(batch, c, h, w) * scale + shift
         + torch.linspace(-1.0, 1.0, c).view(1, c, 1, 1))  # channels differ in mean
    x.requires_grad_(True)
    gamma = per_channel(c, 0.5, 1.5).requires_grad_(True) if affine else None
    beta = per_channel(c, -0.5, 0.5).requires_grad_(True) if affine else None
    rm = per_channel(c, -0.2, 0.2) if running else None
    rv = per_channel(c, 0.5, 2.0) if running else None
    out[p + "meta"] = ints(batch, h, w, c, int(affine), int(running))
    out[p + "eps_momentum"] = np.array([eps, MOMENTUM], dtype=np.float32)
    out[p + "in"] = nhwc(x)
    if affine:
        out[p + "gamma"] = arr(gamma)
        out[p + "beta"] = arr(beta)
    if running:
        # copies: arr() shares memory, and F.batch_norm updates these in place
        out[p + "running_mean_before"] = arr(rm).copy()
        out[p + "running_var_before"] = arr(rv).copy()
    # The saved statistics, as aten computes them for its own backward.
    with torch.no_grad():
        _, save_mean, save_rstd = torch.native_batch_norm(
            x, gamma, beta, None, None, True, MOMENTUM, eps)
    out[p + "save_mean"] = arr(save_mean)
    out[p + "save_rstd"] = arr(save_rstd)
    y = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=MOMENTUM, eps=eps)
    dout = torch.randn_like(y)
    y.backward(dout)
    out[p + "out"] = nhwc(y)
    out[p + "dout"] = nhwc(dout)
    out[p + "din"] = nhwc(x.grad)
    if affine:
        out[p + "dgamma"] = arr(gamma.grad)
        out[p + "dbeta"] = arr(beta.grad)
    if running:  # F.batch_norm updated them in place
        out[p + "running_mean_after"] = arr(rm)
        out[p + "running_var_after"] = arr(rv)


def infer_case(out, name, batch, h, w, c, affine, eps):
    p = f"infer/{name}/"
    x = torch.randn(batch, c, h, w) * 1.5 + 0.3
    gamma = per_channel(c, 0.5, 1.5) if affine else None
    beta = per_channel(c, -0.5, 0.5) if affine else None
    rm = per_channel(c, -0.5, 0.5)
    rv = per_channel(c, 0.3, 3.0)
    y = F.batch_norm(x, rm, rv, gamma, beta, training=False, eps=eps)
    out[p + "meta"] = ints(batch, h, w, c, int(affine))
    out[p + "eps"] = np.array([eps], dtype=np.float32)
    out[p + "in"] = nhwc(x)
    if affine:
        out[p + "gamma"] = arr(gamma)
        out[p + "beta"] = arr(beta)
    out[p + "running_mean"] = arr(rm)
    out[p + "running_var"] = arr(rv)
    out[p + "out"] = nhwc(y)


def cases():
    out = {}
    for name, spec in TRAIN.items():
        train_case(out, name, *spec)
    for name, spec in INFER.items():
        infer_case(out, name, *spec)
    return out
