"""Conversions from PyTorch layouts to hwnas layouts (see kernels/ops.h)."""
import numpy as np


def nhwc(t):
    """NCHW torch tensor -> NHWC numpy array."""
    return t.detach().permute(0, 2, 3, 1).contiguous().numpy()


def ohwi(w):
    """Dense conv weight OIHW -> OHWI."""
    return w.detach().permute(0, 2, 3, 1).contiguous().numpy()


def kkc(w):
    """Depthwise conv weight [C,1,k,k] -> [k][k][C]."""
    return w.detach()[:, 0].permute(1, 2, 0).contiguous().numpy()


def arr(t):
    return t.detach().clone().contiguous().numpy()


def ints(*values):
    return np.array(values, dtype=np.int32)
