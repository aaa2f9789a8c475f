"""Channel concat/split, ShuffleNet channel shuffle (and SPOS's even/odd
split), and the residual add, with autograd gradients. NHWC in the files."""
import torch

from ref_cases._layout import ints, nhwc


def shufflenet_shuffle(x, groups):
    """ShuffleNet v1/v2 reference: view [groups][c/groups], transpose."""
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous().view(b, c, h, w)


def spos_shuffle(x):
    """SPOS (megvii-model/SinglePathOneShot) channel_shuffle: returns the even
    and the odd channels as the two branches."""
    b, c, h, w = x.shape
    assert c % 4 == 0
    x = x.reshape(b * c // 2, 2, h * w)
    x = x.permute(1, 0, 2)
    x = x.reshape(2, -1, c // 2, h, w)
    return x[0], x[1]


# name: (batch, h, w, ca, cb)
CONCAT = {
    "n2_h3_w5_a7_b13": (2, 3, 5, 7, 13),
    "n1_h1_w1_a1_b5": (1, 1, 1, 1, 5),
    "n3_h4_w4_a20_b20": (3, 4, 4, 20, 20),
}
# name: (batch, h, w, channels, groups)
SHUFFLE = {
    "n2_h3_w3_c12_g2": (2, 3, 3, 12, 2),
    "n1_h5_w5_c36_g3": (1, 5, 5, 36, 3),
    "n2_h2_w2_c20_g10": (2, 2, 2, 20, 10),  # groups = c/2: SPOS's order
    "n1_h3_w1_c6_g6": (1, 3, 1, 6, 6),
    "n3_h1_w2_c24_g4": (3, 1, 2, 24, 4),
}


def cases():
    out = {}
    for name, (b, h, w, ca, cb) in CONCAT.items():
        p = f"concat/{name}/"
        xa = torch.randn(b, ca, h, w).requires_grad_(True)
        xb = torch.randn(b, cb, h, w).requires_grad_(True)
        y = torch.cat([xa, xb], dim=1)
        dout = torch.randn_like(y)
        y.backward(dout)
        out[p + "meta"] = ints(b, h, w, ca, cb)
        out[p + "a"], out[p + "b"], out[p + "out"] = nhwc(xa), nhwc(xb), nhwc(y)
        out[p + "dout"], out[p + "da"], out[p + "db"] = nhwc(dout), nhwc(xa.grad), nhwc(xb.grad)
    for name, (b, h, w, c, g) in SHUFFLE.items():
        p = f"shuffle/{name}/"
        x = torch.randn(b, c, h, w).requires_grad_(True)
        y = shufflenet_shuffle(x, g)
        dout = torch.randn_like(y)
        y.backward(dout)
        out[p + "meta"] = ints(b, h, w, c, g)
        out[p + "in"], out[p + "out"] = nhwc(x), nhwc(y)
        out[p + "dout"], out[p + "din"] = nhwc(dout), nhwc(x.grad)
    # SPOS: shuffle with groups = c/2 then split in halves gives its two branches.
    x = torch.randn(2, 20, 3, 3)
    even, odd = spos_shuffle(x)
    out["spos/meta"] = ints(2, 3, 3, 20)
    out["spos/in"], out["spos/first"], out["spos/second"] = nhwc(x), nhwc(even), nhwc(odd)
    # Residual add.
    a, b = torch.randn(3, 7, 5, 11), torch.randn(3, 7, 5, 11)
    out["add/a"], out["add/b"], out["add/out"] = nhwc(a), nhwc(b), nhwc(a + b)
    return out
