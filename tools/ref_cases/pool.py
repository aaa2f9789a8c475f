"""Global average pool and squeeze-excitation channel scaling (out = in * s,
s of shape [batch][c]): forwards and autograd gradients, NHWC in the files."""
import torch

from ref_cases._layout import arr, ints, nhwc

# name: (batch, h, w, channels)
SHAPES = {
    "n2_h7_w7_c20": (2, 7, 7, 20),
    "n1_h1_w1_c5": (1, 1, 1, 5),
    "n3_h5_w3_c36": (3, 5, 3, 36),
    "n4_h14_w14_c13": (4, 14, 14, 13),
    "n1_h10_w10_c520": (1, 10, 10, 520),  # two 512-channel chunks, threaded
}


def gap_case(out, name, batch, h, w, c):
    p = f"gap/{name}/"
    x = (torch.randn(batch, c, h, w) + 0.5).requires_grad_(True)
    y = x.mean(dim=(2, 3))
    dout = torch.randn_like(y)
    y.backward(dout)
    out[p + "meta"] = ints(batch, h, w, c)
    out[p + "in"] = nhwc(x)
    out[p + "out"] = arr(y)
    out[p + "dout"] = arr(dout)
    out[p + "din"] = nhwc(x.grad)


def scale_case(out, name, batch, h, w, c):
    p = f"scale/{name}/"
    x = torch.randn(batch, c, h, w).requires_grad_(True)
    s = torch.rand(batch, c).requires_grad_(True)  # a sigmoid-like gate in [0, 1)
    y = x * s[:, :, None, None]
    dout = torch.randn_like(y)
    y.backward(dout)
    out[p + "meta"] = ints(batch, h, w, c)
    out[p + "in"] = nhwc(x)
    out[p + "scale"] = arr(s)
    out[p + "out"] = nhwc(y)
    out[p + "dout"] = nhwc(dout)
    out[p + "din"] = nhwc(x.grad)
    out[p + "dscale"] = arr(s.grad)


def cases():
    out = {}
    for name, shape in SHAPES.items():
        gap_case(out, name, *shape)
        scale_case(out, name, *shape)
    return out
