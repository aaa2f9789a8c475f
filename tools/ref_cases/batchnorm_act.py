"""Fused BatchNorm2d + activation: F.batch_norm (training and inference)
followed by relu / relu6 / hardswish (and sigmoid, hardsigmoid, none), with
din, dgamma and dbeta from autograd and the running-stat update. NCHW in
torch, NHWC in the files.

The reference is computed in float64 from float32 inputs and rounded to
float32 once, so the C tests measure hwnas's own error, not torch's.

Kinks: at relu's 0, relu6's 0 and 6, and hardswish's -3 and 3 the derivative
jumps, and a y = BN(x) within float rounding of a kink may land on either
side in float32 and float64. Training inputs are therefore nudged until no
y lies within KINK_MARGIN of a kink of its activation (see away_from_kinks),
so the reference is exact for any rounding of y.
"""
import numpy as np
import torch
import torch.nn.functional as F

from ref_cases._layout import ints

# name -> enum value in kernels/ops.h, torch function, kinks of the derivative
ACTS = {
    "none": (0, lambda t: t, ()),
    "relu": (1, F.relu, (0.0,)),
    "relu6": (2, F.relu6, (0.0, 6.0)),
    "hswish": (3, F.hardswish, (-3.0, 3.0)),
    "sigmoid": (4, torch.sigmoid, ()),
    "hsigmoid": (5, F.hardsigmoid, (-3.0, 3.0)),
}

# name: (batch, h, w, channels, act, affine, running, eps, gamma range, beta range)
# Wide gamma/beta ranges put y = BN(x) on every piece of relu6 and hardswish.
TRAIN = {
    "n1_h7_w7_c5_relu_affine": (1, 7, 7, 5, "relu", True, True, 1e-5, (0.5, 1.5), (-0.5, 0.5)),
    "n4_h5_w3_c20_relu6_affine": (4, 5, 3, 20, "relu6", True, True, 1e-5, (1.0, 4.0), (0.0, 3.0)),
    "n3_h2_w2_c36_hswish_plain": (3, 2, 2, 36, "hswish", False, True, 1e-5, None, None),
    "n2_h9_w11_c13_hswish_norunning": (2, 9, 11, 13, "hswish", True, False, 1e-3, (1.0, 4.0),
                                       (-1.0, 1.0)),
    "n1_h2_w2_c7_relu_plain_norunning": (1, 2, 2, 7, "relu", False, False, 1e-5, None, None),
    "n2_h6_w6_c20_relu6_plain": (2, 6, 6, 20, "relu6", False, True, 1e-5, None, None),
    "n3_h5_w5_c36_none_affine": (3, 5, 5, 36, "none", True, True, 1e-5, (0.5, 1.5), (-0.5, 0.5)),
    "n2_h4_w4_c24_sigmoid_affine": (2, 4, 4, 24, "sigmoid", True, True, 1e-5, (0.5, 3.0),
                                    (-1.0, 1.0)),
    "n2_h4_w4_c12_hsigmoid_affine": (2, 4, 4, 12, "hsigmoid", True, True, 1e-5, (1.0, 4.0),
                                     (-1.0, 1.0)),
    # more channels than the CPU's coefficient chunk (512)
    "n2_h3_w3_c520_relu6_affine": (2, 3, 3, 520, "relu6", True, True, 1e-5, (1.0, 4.0),
                                   (0.0, 3.0)),
    # the supernet's first stage at batch 128: 100352 rows
    "n128_h28_w28_c24_hswish_affine": (128, 28, 28, 24, "hswish", True, True, 1e-5, (1.0, 3.0),
                                       (-1.0, 1.0)),
}
# name: (batch, h, w, channels, act, affine, eps)
INFER = {
    "n2_h3_w5_c20_relu6_affine": (2, 3, 5, 20, "relu6", True, 1e-5),
    "n1_h4_w4_c7_hswish_plain": (1, 4, 4, 7, "hswish", False, 1e-3),
    "n3_h2_w2_c36_relu_affine": (3, 2, 2, 36, "relu", True, 1e-5),
}
MOMENTUM = 0.1
KINK_MARGIN = 1e-3


def f32(t):
    return t.detach().float().contiguous().numpy()


def nhwc32(t):
    return t.detach().float().permute(0, 2, 3, 1).contiguous().numpy()


def batch_y(x, gamma, beta, eps):
    """y = BN(x) with batch statistics, in float64 (x: float32 NCHW)."""
    xd = x.double()
    mean = xd.mean(dim=(0, 2, 3), keepdim=True)
    var = xd.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    rstd = 1.0 / torch.sqrt(var + eps)
    y = (xd - mean) * rstd
    if gamma is not None:
        y = y * gamma.double().view(1, -1, 1, 1) + beta.double().view(1, -1, 1, 1)
    return y, rstd


def away_from_kinks(x, gamma, beta, eps, kinks):
    """Moves the elements of float32 x whose y = BN(x) lies within
    KINK_MARGIN of a kink by 3 * KINK_MARGIN in y; repeats until none does
    (moving x also moves the batch statistics, a little)."""
    for _ in range(50):
        y, rstd = batch_y(x, gamma, beta, eps)
        near = torch.zeros_like(y, dtype=torch.bool)
        for k in kinks:
            near |= (y - k).abs() < KINK_MARGIN
        if not near.any():
            return x
        scale = rstd if gamma is None else rstd * gamma.double().abs().view(1, -1, 1, 1)
        step = (3.0 * KINK_MARGIN / scale).expand_as(y)
        x = torch.where(near, (x.double() + step).float(), x)
    raise RuntimeError("batchnorm_act.py: inputs keep landing on a kink")


def train_case(out, name, batch, h, w, c, act, affine, running, eps, g_range, b_range):
    p = f"train/{name}/"
    code, fn, kinks = ACTS[act]
    x = (torch.randn(batch, c, h, w) * 1.5 + 0.3
         + torch.linspace(-1.0, 1.0, c).view(1, c, 1, 1))  # channels differ in mean
    gamma = torch.empty(c).uniform_(*g_range) if affine else None
    beta = torch.empty(c).uniform_(*b_range) if affine else None
    x = away_from_kinks(x, gamma, beta, eps, kinks)
    rm = torch.empty(c).uniform_(-0.2, 0.2) if running else None
    rv = torch.empty(c).uniform_(0.5, 2.0) if running else None
    dout = torch.randn(batch, c, h, w)

    out[p + "meta"] = ints(batch, h, w, c, code, int(affine), int(running))
    out[p + "eps_momentum"] = np.array([eps, MOMENTUM], dtype=np.float32)
    out[p + "in"] = nhwc32(x)
    out[p + "dout"] = nhwc32(dout)
    if affine:
        out[p + "gamma"] = f32(gamma)
        out[p + "beta"] = f32(beta)
    if running:
        out[p + "running_mean_before"] = f32(rm)
        out[p + "running_var_before"] = f32(rv)

    xd = x.double().requires_grad_(True)
    gd = gamma.double().requires_grad_(True) if affine else None
    bd = beta.double().requires_grad_(True) if affine else None
    rmd = rm.double() if running else None
    rvd = rv.double() if running else None
    with torch.no_grad():
        _, save_mean, save_rstd = torch.native_batch_norm(
            xd, gd, bd, None, None, True, MOMENTUM, eps)
    y = fn(F.batch_norm(xd, rmd, rvd, gd, bd, training=True, momentum=MOMENTUM, eps=eps))
    y.backward(dout.double())
    out[p + "out"] = nhwc32(y)
    out[p + "save_mean"] = f32(save_mean)
    out[p + "save_rstd"] = f32(save_rstd)
    out[p + "din"] = nhwc32(xd.grad)
    if affine:
        out[p + "dgamma"] = f32(gd.grad)
        out[p + "dbeta"] = f32(bd.grad)
    if running:  # F.batch_norm updated them in place
        out[p + "running_mean_after"] = f32(rmd)
        out[p + "running_var_after"] = f32(rvd)


def infer_case(out, name, batch, h, w, c, act, affine, eps):
    p = f"infer/{name}/"
    code, fn, _ = ACTS[act]
    x = torch.randn(batch, c, h, w) * 1.5 + 0.3
    gamma = torch.empty(c).uniform_(1.0, 4.0) if affine else None
    beta = torch.empty(c).uniform_(-1.0, 3.0) if affine else None
    rm = torch.empty(c).uniform_(-0.5, 0.5)
    rv = torch.empty(c).uniform_(0.3, 3.0)
    y = fn(F.batch_norm(x.double(), rm.double(), rv.double(),
                        gamma.double() if affine else None, beta.double() if affine else None,
                        training=False, eps=eps))
    out[p + "meta"] = ints(batch, h, w, c, code, int(affine))
    out[p + "eps"] = np.array([eps], dtype=np.float32)
    out[p + "in"] = nhwc32(x)
    if affine:
        out[p + "gamma"] = f32(gamma)
        out[p + "beta"] = f32(beta)
    out[p + "running_mean"] = f32(rm)
    out[p + "running_var"] = f32(rv)
    out[p + "out"] = nhwc32(y)


def cases():
    out = {}
    for name, spec in TRAIN.items():
        train_case(out, name, *spec)
    for name, spec in INFER.items():
        infer_case(out, name, *spec)
    return out
