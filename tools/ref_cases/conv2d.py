"""Dense conv2d: forward output, input, weight and bias gradients from autograd.

Case i is stored as "<i>/shape" = [batch, in_h, in_w, in_c, out_c, kernel,
stride, pad, has_bias] plus in, weight (OHWI), bias (if any), out, dout, din,
dweight, dbias in hwnas layouts; "count" is the number of cases.
"""
import torch
import torch.nn.functional as F

from ref_cases._layout import arr, ints, nhwc, ohwi

# (batch, in_h, in_w, in_c, out_c, kernel, stride, pad, has_bias). Stems
# (1 -> 16, 3 -> 16), a fused-MBConv-like 3x3 expand, kernels 1/3/5/7, stride 2
# on odd inputs, batch 1, a 1x1 stride-1 conv (the GEMM-only path) and a 1x1
# stride-2 one, pad 0, many small images (several images per im2col tile) and
# one image large enough to be split into bands of output rows; last, a
# FashionMNIST-sized stride-2 grayscale stem with bias and a batch large enough
# for several threads (kernels/cpu/conv2d_stem.c).
SHAPES = [
    (2, 11, 11, 1, 16, 3, 1, 1, 0),
    (1, 13, 13, 3, 16, 3, 2, 1, 1),
    (1, 7, 9, 5, 12, 3, 1, 1, 1),
    (2, 13, 13, 12, 20, 5, 2, 2, 0),
    (1, 9, 7, 3, 5, 7, 1, 3, 1),
    (2, 7, 7, 20, 36, 1, 1, 0, 1),
    (1, 9, 9, 12, 20, 1, 2, 0, 0),
    (2, 8, 8, 24, 36, 3, 1, 1, 0),
    (1, 9, 10, 5, 12, 3, 2, 0, 1),
    (23, 5, 5, 3, 8, 3, 1, 1, 1),
    (1, 72, 72, 16, 8, 3, 1, 1, 1),
    (16, 28, 28, 1, 16, 3, 2, 1, 1),
]


def cases():
    out = {"count": ints(len(SHAPES))}
    for i, (n, h, w, ci, co, k, s, p, has_bias) in enumerate(SHAPES):
        x = torch.randn(n, ci, h, w, requires_grad=True)
        weight = torch.randn(co, ci, k, k, requires_grad=True)
        bias = torch.randn(co, requires_grad=True) if has_bias else None
        y = F.conv2d(x, weight, bias, s, p)
        g = torch.randn_like(y)
        y.backward(g)
        out[f"{i}/shape"] = ints(n, h, w, ci, co, k, s, p, has_bias)
        out[f"{i}/in"] = nhwc(x)
        out[f"{i}/weight"] = ohwi(weight)
        out[f"{i}/out"] = nhwc(y)
        out[f"{i}/dout"] = nhwc(g)
        out[f"{i}/din"] = nhwc(x.grad)
        out[f"{i}/dweight"] = ohwi(weight.grad)
        if has_bias:
            out[f"{i}/bias"] = arr(bias)
            out[f"{i}/dbias"] = arr(bias.grad)
    return out
