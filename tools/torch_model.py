#!/usr/bin/python3
"""Independent PyTorch implementation of hwnas search spaces and architectures.

Builds the network of any space file (configs/spaces/*.yaml), either as the
whole weight-sharing supernet (every candidate of every layer, names
`layers.L.OP.*`) or as one architecture (names `layers.L.*`), with the same
module names hwnas uses, so hwnas's safetensors load with
load_state_dict(strict=True).

  /usr/bin/python3 tools/torch_model.py --space S.yaml --arch A.yaml \
      --weights W.safetensors [--eval-idx DIR] [--limit N]
prints top-1 of the architecture on the Fashion-MNIST test set.
"""
import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

POOL = [
    "mb_k3_e3", "mb_k3_e6", "mb_k5_e3", "mb_k5_e6", "mb_k7_e3", "mb_k7_e6",
    "mb_k3_e3_se", "mb_k3_e6_se", "mb_k5_e3_se", "mb_k5_e6_se", "mb_k7_e3_se", "mb_k7_e6_se",
    "mb_k3_e3_hs", "mb_k3_e6_hs", "mb_k5_e3_hs", "mb_k5_e6_hs", "mb_k7_e3_hs", "mb_k7_e6_hs",
    "fused_k3_e3", "fused_k3_e6", "sep_k3", "sep_k5", "sep_k7", "shuffle_k3",
    "shuffle_k5", "shuffle_k7", "shuffle_x", "shuffle_k3_se", "shuffle_k5_se", "shuffle_k7_se",
    "shuffle_x_se", "skip",
]

ACTS = {
    "none": nn.Identity, "relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish,
    "sigmoid": nn.Sigmoid, "hsigmoid": nn.Hardsigmoid,
}


def parse_op(name):
    """-> dict(family, kernel, expand, se, hs) following supernet/operator.c."""
    if name == "skip":
        return dict(family="skip", kernel=0, expand=1, se=False, hs=False)
    # Suffixes in operator.c's order: [_se][_hs] (mb_k5_e4_se_hs has both).
    hs = name.endswith("_hs")
    base = name[:-3] if hs else name
    se = base.endswith("_se")
    base = base[:-3] if se else base
    parts = base.split("_")
    if parts[0] == "mb":
        return dict(family="mb", kernel=int(parts[1][1:]), expand=int(parts[2][1:]), se=se, hs=hs)
    if parts[0] == "fused":
        return dict(family="fused", kernel=3, expand=int(parts[2][1:]), se=False, hs=False)
    if parts[0] == "sep":
        return dict(family="sep", kernel=int(parts[1][1:]), expand=1, se=False, hs=False)
    if base == "shuffle_x":
        return dict(family="shuffle_x", kernel=3, expand=1, se=se, hs=False)
    if parts[0] == "shuffle":
        return dict(family="shuffle", kernel=int(parts[1][1:]), expand=1, se=se, hs=False)
    raise ValueError(f"unknown operator {name}")


def op_valid(op, cin, cout, stride):
    if op["family"] == "skip":
        return cin == cout and stride == 1
    if op["family"] in ("shuffle", "shuffle_x"):
        if stride == 1 and cin == cout:
            return cin % 2 == 0
        return cout > cin
    return True


class ConvBNAct(nn.Module):
    """`conv` (dense, depthwise or 1x1) + `bn` + activation."""

    def __init__(self, cin, cout, k, stride, act, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = ACTS[act]()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


def dw(c, k, stride, act):
    return ConvBNAct(c, c, k, stride, act, groups=c)


class SqueezeExcite(nn.Module):
    def __init__(self, c):
        super().__init__()
        hidden = max(8, c // 4)
        self.fc1 = nn.Conv2d(c, hidden, 1, bias=True)
        self.fc2 = nn.Conv2d(hidden, c, 1, bias=True)

    def forward(self, x):
        g = F.adaptive_avg_pool2d(x, 1)
        g = F.hardsigmoid(self.fc2(F.relu(self.fc1(g))))
        return x * g


class MBConv(nn.Module):
    def __init__(self, op, cin, cout, stride, act):
        super().__init__()
        act = "hswish" if op["hs"] else act
        mid = cin * op["expand"]
        if op["expand"] != 1:
            self.expand = ConvBNAct(cin, mid, 1, 1, act)
        self.dw = dw(mid, op["kernel"], stride, act)
        if op["se"]:
            self.se = SqueezeExcite(mid)
        self.project = ConvBNAct(mid, cout, 1, 1, "none")
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.expand(x) if hasattr(self, "expand") else x
        y = self.dw(y)
        if hasattr(self, "se"):
            y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y


class Fused(nn.Module):
    def __init__(self, op, cin, cout, stride):
        super().__init__()
        self.expand = ConvBNAct(cin, cin * op["expand"], 3, stride, "relu6")
        self.project = ConvBNAct(cin * op["expand"], cout, 1, 1, "none")
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.expand(x))
        return x + y if self.residual else y


class Sep(nn.Module):
    def __init__(self, op, cin, cout, stride):
        super().__init__()
        self.dw = dw(cin, op["kernel"], stride, "relu6")
        self.project = ConvBNAct(cin, cout, 1, 1, "none")
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.dw(x))
        return x + y if self.residual else y


class ShuffleMain(nn.Module):
    def __init__(self, op, cin, mid, cout, stride):
        super().__init__()
        if op["family"] == "shuffle":
            self.pw1 = ConvBNAct(cin, mid, 1, 1, "relu")
            self.dw = dw(mid, op["kernel"], stride, "none")
            self.pw2 = ConvBNAct(mid, cout, 1, 1, "relu")
            self.seq = ["pw1", "dw", "pw2"]
        else:
            self.dw1 = dw(cin, 3, stride, "none")
            self.pw1 = ConvBNAct(cin, mid, 1, 1, "relu")
            self.dw2 = dw(mid, 3, 1, "none")
            self.pw2 = ConvBNAct(mid, mid, 1, 1, "relu")
            self.dw3 = dw(mid, 3, 1, "none")
            self.pw3 = ConvBNAct(mid, cout, 1, 1, "relu")
            self.seq = ["dw1", "pw1", "dw2", "pw2", "dw3", "pw3"]
        if op["se"]:
            self.se = SqueezeExcite(cout)

    def forward(self, x):
        for name in self.seq:
            x = getattr(self, name)(x)
        return self.se(x) if hasattr(self, "se") else x


class ShuffleProj(nn.Module):
    def __init__(self, cin, k, stride):
        super().__init__()
        self.dw = dw(cin, k, stride, "none")
        self.pw = ConvBNAct(cin, cin, 1, 1, "relu")

    def forward(self, x):
        return self.pw(self.dw(x))


class Shuffle(nn.Module):
    """ShuffleNetV2 block as in SPOS: even channels bypass, odd ones enter."""

    def __init__(self, op, cin, cout, stride):
        super().__init__()
        mid = cout // 2
        self.split = stride == 1 and cin == cout
        if self.split:
            self.main = ShuffleMain(op, cin - cin // 2, mid, cout - cin // 2, stride)
        else:
            self.proj = ShuffleProj(cin, op["kernel"], stride)
            self.main = ShuffleMain(op, cin, mid, cout - cin, stride)

    def forward(self, x):
        if self.split:
            return torch.cat((x[:, 0::2], self.main(x[:, 1::2])), 1)
        return torch.cat((self.proj(x), self.main(x)), 1)


class Skip(nn.Module):
    def forward(self, x):
        return x


def make_op(name, cin, cout, stride, act):
    op = parse_op(name)
    if not op_valid(op, cin, cout, stride):
        raise ValueError(f"{name} cannot map {cin}->{cout} stride {stride}")
    fam = op["family"]
    if fam == "mb":
        return MBConv(op, cin, cout, stride, act)
    if fam == "fused":
        return Fused(op, cin, cout, stride)
    if fam == "sep":
        return Sep(op, cin, cout, stride)
    if fam in ("shuffle", "shuffle_x"):
        return Shuffle(op, cin, cout, stride)
    return Skip()


def load_space(path):
    with open(path) as f:
        sp = yaml.safe_load(f)
    h, w, c = sp["input"]
    stem = sp["stem"]
    k, s = stem.get("kernel", 3), stem.get("stride", 1)
    h, w = (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
    c = stem["first"]["out"] if "first" in stem else stem["out"]
    layers = []
    for L in sp["layers"]:
        stride = L.get("stride", 1)
        ops = L["ops"]
        if ops == "all":
            ops = [o for o in POOL if op_valid(parse_op(o), c, L["out"], stride)]
        layers.append(dict(cin=c, cout=L["out"], stride=stride, ops=list(ops)))
        h, w = (h - 1) // stride + 1, (w - 1) // stride + 1
        c = L["out"]
    sp["_layers"] = layers
    sp["_last_c"] = c
    return sp


class Stem(nn.Module):
    def __init__(self, sp):
        super().__init__()
        st = sp["stem"]
        act = st.get("act", "relu")
        self.conv = nn.Conv2d(sp["input"][2], st["out"], st.get("kernel", 3), st.get("stride", 1),
                              st.get("kernel", 3) // 2, bias=False)
        self.bn = nn.BatchNorm2d(st["out"])
        self.act = ACTS[act]()
        if "first" in st:
            self.first = make_op(st["first"]["op"], st["out"], st["first"]["out"], 1, act)

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        return self.first(x) if hasattr(self, "first") else x


class Net(nn.Module):
    """Supernet (arch=None, every candidate) or one architecture (arch = op names)."""

    def __init__(self, sp, arch=None):
        super().__init__()
        act = sp.get("block_act", "relu6")
        self.stem = Stem(sp)
        self.layers = nn.ModuleList()
        for i, L in enumerate(sp["_layers"]):
            if arch is None:
                self.layers.append(nn.ModuleDict(
                    {o: make_op(o, L["cin"], L["cout"], L["stride"], act) for o in L["ops"]}))
            else:
                if arch[i] not in L["ops"]:
                    raise ValueError(f"layer {i}: {arch[i]} is not a candidate")
                self.layers.append(make_op(arch[i], L["cin"], L["cout"], L["stride"], act))
        head = sp.get("head", {}) or {}
        feats = head.get("features", 0)
        c = sp["_last_c"]
        if feats:
            self.head = ConvBNAct(c, feats, 1, 1, head.get("act", "relu"))
            c = feats
        self.classifier = nn.Linear(c, sp["classes"])
        self.ops = [L["ops"] for L in sp["_layers"]]

    def forward(self, x, path=None):
        """x: NCHW. path: op indices per layer (supernet) or None (architecture)."""
        x = self.stem(x)
        for i, layer in enumerate(self.layers):
            x = layer[self.ops[i][path[i]]](x) if path is not None else layer(x)
        if hasattr(self, "head"):
            x = self.head(x)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def decay_split(model):
    """Weight decay on conv/linear weights only (ndim > 1), as hwnas does."""
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    rest = [p for n, p in model.named_parameters() if p.ndim <= 1]
    return decay, rest


def hwnas_layout(model):
    """{parameter or buffer name: tensor in hwnas layout} (see kernels/ops.h)."""
    depthwise = {f"{n}.weight" for n, m in model.named_modules()
                 if isinstance(m, nn.Conv2d) and m.groups > 1}
    out = {}
    for name, t in model.state_dict().items():
        t = t.detach()
        if name.endswith("num_batches_tracked"):
            continue
        if name in depthwise:
            t = t[:, 0].permute(1, 2, 0)                 # [C,1,k,k] -> [k][k][C]
        elif t.ndim == 4 and t.shape[2] == 1 and t.shape[3] == 1:
            t = t.reshape(t.shape[0], t.shape[1])        # 1x1 conv -> [out][in]
        elif t.ndim == 4:
            t = t.permute(0, 2, 3, 1)                    # OIHW -> OHWI
        out[name] = t.clone().contiguous()
    return out


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[info["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dtype).reshape(info["shape"]).copy())
    return out


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", required=True)
    ap.add_argument("--arch", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--mean", type=float, default=0.2860)
    ap.add_argument("--std", type=float, default=0.3530)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--logits-out", default=None,
                    help="write the logits of the first 64 test images (raw little-endian float32)")
    ap.add_argument("--inputs-out", default=None,
                    help="write the normalized test images, NCHW raw little-endian float32 (for ONNX Runtime)")
    ap.add_argument("--labels-out", default=None, help="write their labels, one byte each")
    args = ap.parse_args()
    sp = load_space(args.space)
    with open(args.arch) as f:
        arch = yaml.safe_load(f)["ops"]
    model = Net(sp, arch)
    model.load_state_dict(read_safetensors(args.weights), strict=True)
    model.eval()
    images = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    x = (torch.from_numpy(images.astype(np.float32) / 255.0) - args.mean) / args.std
    x = x.unsqueeze(1)
    if args.inputs_out:
        x.numpy().astype("<f4").tofile(args.inputs_out)
    if args.labels_out:
        labels.astype(np.uint8).tofile(args.labels_out)
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 500):
            logits = model(x[i:i + 500])
            if i == 0 and args.logits_out:
                logits[:64].numpy().astype("<f4").tofile(args.logits_out)
            correct += (logits.argmax(1).numpy() == labels[i:i + 500]).sum()
    print(f"top1 {correct / len(x):.4f} n {len(x)}")


if __name__ == "__main__":
    sys.exit(main())
