"""Depthwise conv2d: forward output, input and weight gradients from autograd.

Case i is stored as "<i>/shape" = [batch, in_h, in_w, channels, kernel, stride,
pad] plus in, weight ([k][k][C]), out, dout, din, dweight in hwnas layouts;
"count" is the number of cases.
"""
import torch
import torch.nn.functional as F

from ref_cases._layout import ints, kkc, nhwc

# (batch, in_h, in_w, channels, kernel, stride, pad). Channel counts cover a
# partial register block (3, 5, 12), full blocks plus a tail (20, 36), whole
# blocks (16, 32, 48); widths reach the grouped interior paths (13, 16, 17,
# 23); batch 1, odd sizes, stride 2 on odd inputs, maps no wider than the
# kernel, and pads other than k // 2. k 3/5/7 with stride 1/2 take the CPU's
# specialized window kernels (output widths 4 to 17 cover its groups of 8, 7,
# 6 and 4 pixels and overlapping ends); k 1 and 9, stride 3 its generic tap
# lists; k 17 its per-element fallback.
SHAPES = [
    (2, 7, 9, 5, 3, 1, 1),
    (1, 13, 13, 20, 5, 1, 2),
    (2, 13, 13, 36, 7, 1, 3),
    (2, 9, 11, 12, 3, 2, 1),
    (1, 15, 15, 20, 5, 2, 2),
    (1, 7, 7, 3, 7, 2, 3),
    (3, 12, 16, 48, 3, 1, 1),
    (1, 5, 5, 16, 7, 1, 3),
    (2, 11, 17, 32, 3, 2, 1),
    (1, 9, 23, 16, 5, 2, 2),
    (1, 10, 9, 17, 3, 2, 0),
    (2, 8, 11, 24, 5, 1, 1),
    (1, 12, 14, 20, 9, 1, 4),
    (2, 11, 13, 16, 3, 3, 1),
    (2, 6, 7, 18, 1, 1, 0),
    (1, 18, 18, 4, 17, 1, 8),
    (2, 7, 7, 24, 3, 1, 1),
    (1, 14, 14, 20, 5, 1, 2),
    (1, 14, 14, 32, 3, 2, 1),
    (1, 6, 6, 16, 7, 2, 3),
]


def cases():
    out = {"count": ints(len(SHAPES))}
    for i, (n, h, w, c, k, s, p) in enumerate(SHAPES):
        x = torch.randn(n, c, h, w, requires_grad=True)
        weight = torch.randn(c, 1, k, k, requires_grad=True)
        y = F.conv2d(x, weight, None, s, p, 1, c)
        g = torch.randn_like(y)
        y.backward(g)
        out[f"{i}/shape"] = ints(n, h, w, c, k, s, p)
        out[f"{i}/in"] = nhwc(x)
        out[f"{i}/weight"] = kkc(weight)
        out[f"{i}/out"] = nhwc(y)
        out[f"{i}/dout"] = nhwc(g)
        out[f"{i}/din"] = nhwc(x.grad)
        out[f"{i}/dweight"] = kkc(weight.grad)
    return out
