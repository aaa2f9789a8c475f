"""Supernet training steps in PyTorch (tools/torch_model.py) on tests/spaces/tiny.yaml.

Like llm.c's debug state: from the same initial weights and data, the logits,
loss and every parameter gradient for 32 paths (each operator of every layer
at least once), then three SGD steps on fixed paths with the final weights,
momentum buffers and BN running statistics.
"""
import copy
import os

import torch
import torch.nn.functional as F

from torch_model import Net, decay_split, hwnas_layout, load_space

SPACE = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "spaces", "tiny.yaml")
BATCH = 6


def flat(prefix, tensors):
    return {f"{prefix}/{k}": v.numpy() for k, v in tensors.items()}


def grads_hwnas(model):
    """Gradients of parameters that received one, in hwnas layout."""
    saved = {n: p.data.clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.data = p.grad.clone() if p.grad is not None else torch.full_like(p, float("nan"))
    g = {k: v for k, v in hwnas_layout(model).items() if not k.endswith(("running_mean", "running_var"))
         and not torch.isnan(v).any()}
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.data = saved[n]
    return g


def cases():
    sp = load_space(SPACE)
    model = Net(sp)
    with torch.no_grad():  # non-trivial BN affine parameters
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    out = flat("init", hwnas_layout(model))
    x = torch.randn(BATCH, 1, 10, 10)
    labels = torch.randint(0, sp["classes"], (BATCH,))
    out["x"] = x.permute(0, 2, 3, 1).contiguous().numpy()
    out["labels"] = labels.numpy().astype("int32")
    sizes = [len(o) for o in model.ops]
    out["sizes"] = torch.tensor(sizes, dtype=torch.int32).numpy()

    probe = copy.deepcopy(model)
    probe.train()
    for i in range(32):
        path = [i % n for n in sizes]
        probe.zero_grad(set_to_none=True)
        logits = probe(x, path)
        loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
        loss.backward()
        out[f"grad{i}/path"] = torch.tensor(path, dtype=torch.int32).numpy()
        out[f"grad{i}/logits"] = logits.detach().numpy()
        out[f"grad{i}/loss"] = loss.detach().reshape(1).numpy()
        out.update(flat(f"grad{i}/g", grads_hwnas(probe)))

    decay, rest = decay_split(model)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 4e-5}, {"params": rest, "weight_decay": 0.0}],
                          lr=0.1, momentum=0.9, nesterov=True)
    model.train()
    for step in range(3):
        path = [(7 * step + 3 * l + 1) % n for l, n in enumerate(sizes)]
        opt.zero_grad(set_to_none=True)
        logits = model(x, path)
        loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
        loss.backward()
        opt.step()
        out[f"step{step}/path"] = torch.tensor(path, dtype=torch.int32).numpy()
        out[f"step{step}/logits"] = logits.detach().numpy()
        out[f"step{step}/loss"] = loss.detach().reshape(1).numpy()
    out.update(flat("final", hwnas_layout(model)))
    # momentum buffers, in hwnas layout, for parameters SGD has state for
    names = {id(p): n for n, p in model.named_parameters()}
    saved = {n: p.data.clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for n, p in model.named_parameters():
            st = opt.state.get(p, {})
            p.data = st["momentum_buffer"].clone() if "momentum_buffer" in st else torch.full_like(p, float("nan"))
    mom = {k: v for k, v in hwnas_layout(model).items() if not k.endswith(("running_mean", "running_var"))
           and not torch.isnan(v).any()}
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.data = saved[n]
    out.update(flat("momentum", mom))
    del names
    return out
