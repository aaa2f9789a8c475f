#!/usr/bin/python3
"""Supernet train-step speed: hwnas and PyTorch CPU side by side, in one run.

Runs `hwnas bench train` (random paths of the space, batch 128), then trains
the same path-sampled supernet built by tools/torch_model.py with the same
paths, batch, thread count, loss (label smoothing 0.1) and optimizer (SGD,
momentum 0.9, Nesterov, weight decay on conv/linear weights, unsampled
parameters untouched via zero_grad(set_to_none=True)). PyTorch runs in its
fastest CPU configuration measured on this machine: channels_last and
tcmalloc (LD_PRELOAD) when available.

Both are also given as a fraction of the machine's measured FP32 FMA peak
(bench/peak_fma.c at the same thread count). The FLOP count of a step is 3x
the forward's convolution and linear multiply-adds x 2 (forward, input
gradient, weight gradient); BatchNorm, activations and the optimizer are not
counted, so the fraction understates the work done.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def torch_side(args, paths):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import torch
    import torch.nn.functional as F
    from torch_model import Net, decay_split, load_space
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sp = load_space(args.space)
    model = Net(sp)
    mf = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=mf)
    decay, rest = decay_split(model)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 4e-5}, {"params": rest, "weight_decay": 0}],
                          lr=0.05, momentum=0.9, nesterov=True)
    h, w, c = sp["input"]
    x = torch.randn(args.batch, c, h, w).to(memory_format=mf)
    y = torch.randint(0, sp["classes"], (args.batch,))
    index = [{n: i for i, n in enumerate(ops)} for ops in model.ops]
    idx_paths = [[index[l][n] for l, n in enumerate(p)] for p in paths]
    times = []
    for i, path in enumerate(idx_paths[:args.warmup] + idx_paths):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x, path), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    return args.batch * len(times) / sum(times), 1e3 * sum(times) / len(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "hwnas"))
    ap.add_argument("--peak-bin", default=os.path.join(ROOT, "build", "peak_fma"))
    ap.add_argument("--space", default=os.path.join(ROOT, "configs", "spaces", "hurricane-fmnist.yaml"))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels-last", type=int, default=1)
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--paths", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_only:
        with open(args.paths) as f:
            paths = [line.split() for line in f if line.strip()]
        ips, ms = torch_side(args, paths)
        print(f"{ips:.1f} {ms:.1f}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        paths_file = os.path.join(tmp, "paths.txt")
        out = subprocess.run([args.bin, "bench", "train", "--space", args.space, "--batch", str(args.batch),
                              "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads",
                              str(args.threads), "--paths-out", paths_file],
                             check=True, capture_output=True, text=True).stdout
        fields = dict(kv.split("=") for kv in out.split() if "=" in kv)
        env = dict(os.environ)
        if os.path.exists(TCMALLOC):
            env["LD_PRELOAD"] = TCMALLOC
        cmd = [sys.executable, __file__, "--torch-only", "--paths", paths_file, "--space", args.space,
               "--batch", str(args.batch), "--warmup", str(args.warmup), "--threads", str(args.threads),
               "--channels-last", str(args.channels_last)]
        t_ips, t_ms = map(float, subprocess.run(cmd, check=True, capture_output=True, text=True,
                                                env=env).stdout.split())
    peak = subprocess.run([args.peak_bin, str(args.threads)], check=True, capture_output=True,
                          text=True).stdout
    peak_fields = dict(kv.split("=") for kv in peak.split() if "=" in kv)
    peak_gflops = float(peak_fields["gflops"])
    h_ips, h_ms = float(fields["images_per_s"]), float(fields["ms_per_step_mean"])
    step_mflop = 3 * float(fields["mflops_per_image"])
    print(f"supernet train step, space {os.path.basename(args.space)}, batch {args.batch}, "
          f"{args.threads} threads, {args.steps} random paths (same paths for both)")
    print(f"FLOPs: {step_mflop:.1f} MFLOP per image per step (3 x {fields['mflops_per_image']} forward, "
          f"conv + linear only); measured FMA peak {peak_gflops:.1f} GFLOP/s ({peak_fields['isa']}, "
          f"{args.threads} threads)")
    print(f"{'':24}{'images/s':>10}{'ms/step':>10}{'GFLOP/s':>10}{'% peak':>8}")
    for name, ips, ms in (("hwnas (C, cpu)", h_ips, h_ms), ("PyTorch 1.13 CPU", t_ips, t_ms)):
        gflops = ips * step_mflop / 1e3
        print(f"{name:24}{ips:10.1f}{ms:10.1f}{gflops:10.1f}{100 * gflops / peak_gflops:7.1f}%")
    print(f"speed-up {h_ips / t_ips:.2f}x")


if __name__ == "__main__":
    main()
