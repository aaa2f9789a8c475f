"""Linear / pointwise (1x1) conv: out = in * W^T + b and its gradients.

Case i is stored as "<i>/shape" = [rows, in_f, out_f, has_bias] plus in,
weight ([out][in]), bias (if any), out, dout, din, dweight, dbias; "count" is
the number of cases. The pointwise cases are computed with F.conv2d on an NCHW
map and stored NHWC (rows = N*H*W), so the GEMM view is checked against torch's
convolution itself.
"""
import torch
import torch.nn.functional as F

from ref_cases._layout import arr, ints, nhwc

# ("linear", rows, in_f, out_f, has_bias) or ("pointwise", n, h, w, in_c, out_c).
# The last two have more rows than one GEMM chunk of linear.c (2048) and
# enough work to run threaded.
SHAPES = [
    ("linear", 1, 5, 3, 1),
    ("linear", 37, 20, 12, 1),
    ("linear", 128, 36, 10, 1),
    ("linear", 13, 3, 5, 0),
    ("pointwise", 2, 7, 9, 24, 144),
    ("pointwise", 2, 7, 7, 144, 24),
    ("pointwise", 1, 13, 13, 12, 20),
    ("pointwise", 3, 5, 5, 36, 5),
    ("pointwise", 2, 40, 40, 24, 36),
    ("pointwise", 1, 45, 47, 40, 20),
]


def linear_case(rows, in_f, out_f, has_bias):
    x = torch.randn(rows, in_f, requires_grad=True)
    weight = torch.randn(out_f, in_f, requires_grad=True)
    bias = torch.randn(out_f, requires_grad=True) if has_bias else None
    y = F.linear(x, weight, bias)
    g = torch.randn_like(y)
    y.backward(g)
    return (rows, in_f, out_f, has_bias), arr(x), arr(y), arr(g), arr(x.grad), weight, bias


def pointwise_case(n, h, w, in_c, out_c):
    x = torch.randn(n, in_c, h, w, requires_grad=True)
    weight = torch.randn(out_c, in_c, 1, 1, requires_grad=True)
    y = F.conv2d(x, weight)
    g = torch.randn_like(y)
    y.backward(g)
    shape = (n * h * w, in_c, out_c, 0)
    return shape, nhwc(x), nhwc(y), nhwc(g), nhwc(x.grad), weight, None


def cases():
    out = {"count": ints(len(SHAPES))}
    for i, spec in enumerate(SHAPES):
        make = linear_case if spec[0] == "linear" else pointwise_case
        shape, x, y, g, dx, weight, bias = make(*spec[1:])
        out[f"{i}/shape"] = ints(*shape)
        out[f"{i}/in"] = x
        out[f"{i}/weight"] = arr(weight.reshape(weight.shape[0], -1))
        out[f"{i}/out"] = y
        out[f"{i}/dout"] = g
        out[f"{i}/din"] = dx
        out[f"{i}/dweight"] = arr(weight.grad.reshape(weight.shape[0], -1))
        if bias is not None:
            out[f"{i}/bias"] = arr(bias)
            out[f"{i}/dbias"] = arr(bias.grad)
    return out
