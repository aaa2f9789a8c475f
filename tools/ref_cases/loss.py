"""Label-smoothed softmax cross-entropy (mean over the batch) with its logits
gradient, and top-1/top-5 counts from torch.topk on tie-free logits."""
import numpy as np
import torch
import torch.nn.functional as F

from ref_cases._layout import arr, ints

# name: (batch, classes, smoothing, logit scale, logit shift)
CE = {
    "b1_k10_s0": (1, 10, 0.0, 3.0, 0.0),
    "b7_k10_s0.1": (7, 10, 0.1, 3.0, 0.0),
    "b1_k1000_s0.1": (1, 1000, 0.1, 2.0, 0.0),
    "b5_k1000_s0": (5, 1000, 0.0, 2.0, 0.0),
    "b33_k1000_s0.1": (33, 1000, 0.1, 4.0, 0.0),
    "b9_k10_s0.1_large": (9, 10, 0.1, 30.0, 100.0),  # exp() would overflow without the max
    "b3_k1000_s0_large": (3, 1000, 0.0, 20.0, -200.0),
}
# name: (batch, classes)
TOPK = {
    "b37_k10": (37, 10),
    "b64_k1000": (64, 1000),
    "b5_k6": (5, 6),
}


def ce_case(out, name, batch, classes, smoothing, scale, shift):
    p = f"ce/{name}/"
    logits = (torch.randn(batch, classes) * scale + shift).requires_grad_(True)
    labels = torch.randint(0, classes, (batch,))
    loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
    loss.backward()
    out[p + "meta"] = ints(batch, classes)
    out[p + "smoothing"] = np.array([smoothing], dtype=np.float32)
    out[p + "logits"] = arr(logits)
    out[p + "labels"] = labels.numpy().astype(np.int32)
    out[p + "loss"] = np.array([loss.item()], dtype=np.float32)
    out[p + "dlogits"] = arr(logits.grad)


def topk_case(out, name, batch, classes):
    p = f"topk/{name}/"
    # A random permutation per row: distinct values, so no ties anywhere.
    logits = torch.stack([torch.randperm(classes) for _ in range(batch)]).float() * 0.25 - 3.0
    top5 = torch.topk(logits, min(5, classes), dim=1).indices
    labels = torch.randint(0, classes, (batch,))
    # Plant hits: some rows' labels are the argmax, some rank 2..5.
    for b in range(0, batch, 3):
        labels[b] = top5[b, 0]
    for b in range(1, batch, 4):
        labels[b] = top5[b, min(b % 5, top5.shape[1] - 1)]
    top5 = torch.topk(logits, min(5, classes), dim=1).indices
    c1 = int((top5[:, 0] == labels).sum())
    c5 = int((top5 == labels[:, None]).any(dim=1).sum())
    out[p + "meta"] = ints(batch, classes)
    out[p + "logits"] = arr(logits)
    out[p + "labels"] = labels.numpy().astype(np.int32)
    out[p + "correct"] = ints(c1, c5)


def cases():
    out = {}
    for name, spec in CE.items():
        ce_case(out, name, *spec)
    for name, spec in TOPK.items():
        topk_case(out, name, *spec)
    return out
