#!/usr/bin/python3
"""Peak resident memory of supernet training: hwnas and PyTorch CPU, one run.

hwnas side: `hwnas train -c CONFIG` exactly as a user runs it (data loader,
workers, checkpoints), stopped with Ctrl-C (SIGINT) after --seconds.
PyTorch side: the same supernet built by tools/torch_model.py, trained on
the same Fashion-MNIST training images held as uint8 (as hwnas holds them),
batch and thread count of the config, random single paths, SGD with
momentum, for the same time, in its fastest measured CPU configuration
(channels_last, tcmalloc when available: bench/bench_train.py). A third
process only imports torch: the part of PyTorch's figure that is the
interpreter and its libraries.

Each figure is the child's ru_maxrss (os.wait4), so no tool is needed. Both
grow with the paths a run happens to sample (the largest path so far sets
the peak), so the step counts are printed beside them.

  /usr/bin/python3 bench/train_memory.py [--bin build/hwnas] [--seconds 40]
"""
import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
FMNIST = "/usr/share/datasets/fashion-mnist"


def wait_rss(proc):
    """Waits for proc; returns (exit status, peak resident MB)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024.0


def hwnas_side(args, tmp):
    log = open(os.path.join(tmp, "hwnas.log"), "w")
    proc = subprocess.Popen([args.bin, "train", "-c", args.config, "-o", os.path.join(tmp, "run"),
                             "--threads", str(args.threads)], stdout=log, stderr=log, cwd=ROOT)
    time.sleep(args.seconds)
    proc.send_signal(signal.SIGINT)
    code, rss = wait_rss(proc)
    log.close()
    text = open(log.name).read()
    steps = re.search(r"hwnas train: (\d+) steps", text)
    if code not in (0, 130) or not steps:
        sys.exit(f"hwnas train exited {code}: {text[-500:]}")
    return rss, int(steps.group(1))


def torch_train(args):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import torch
    import torch.nn.functional as F
    from torch_model import Net, decay_split, load_space, read_idx
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.from_numpy(read_idx(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")).copy())
    labels = torch.from_numpy(read_idx(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")).astype("int64"))
    sp = load_space(args.space)
    model = Net(sp).to(memory_format=torch.channels_last)
    decay, rest = decay_split(model)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 4e-5}, {"params": rest, "weight_decay": 0}],
                          lr=0.05, momentum=0.9, nesterov=True)
    rng = random.Random(0)
    end = time.time() + args.seconds
    steps = 0
    while time.time() < end:
        steps += 1
        idx = torch.randint(0, images.shape[0], (args.batch,))
        x = ((images[idx].float() / 255 - 0.2860) / 0.3530).unsqueeze(1).to(memory_format=torch.channels_last)
        path = [rng.randrange(len(ops)) for ops in model.ops]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x, path), labels[idx], label_smoothing=0.1).backward()
        opt.step()
    print(steps)


def child_rss(cmd, tmp):
    """Runs cmd (tcmalloc preloaded); returns (peak resident MB, its stdout)."""
    env = dict(os.environ)
    if os.path.exists(TCMALLOC):
        env["LD_PRELOAD"] = TCMALLOC
    out = os.path.join(tmp, "child.out")
    with open(out, "w") as f:
        code, rss = wait_rss(subprocess.Popen(cmd, env=env, stdout=f))
    if code != 0:
        sys.exit(f"{' '.join(cmd)} exited {code}")
    return rss, open(out).read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "hwnas"))
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "fmnist.yaml"))
    ap.add_argument("--space", default=os.path.join(ROOT, "configs", "spaces", "hurricane-fmnist.yaml"))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_only:
        torch_train(args)
        return
    me = [sys.executable, __file__, "--space", args.space, "--batch", str(args.batch), "--threads",
          str(args.threads), "--seconds", str(args.seconds)]
    with tempfile.TemporaryDirectory() as tmp:
        h, h_steps = hwnas_side(args, tmp)
        t, t_out = child_rss(me + ["--torch-only"], tmp)
        base, _ = child_rss([sys.executable, "-c", "import torch"], tmp)
    print(f"peak resident memory, supernet training, {os.path.basename(args.config)} "
          f"({os.path.basename(args.space)}), batch {args.batch}, {args.threads} threads, {args.seconds:g} s each")
    print(f"hwnas train (C, cpu)      {h:8.0f} MB  ({h_steps} steps)")
    print(f"PyTorch 1.13 CPU          {t:8.0f} MB  ({int(t_out.split()[-1])} steps; import torch alone: {base:.0f} MB, "
          f"training above it: {t - base:.0f} MB)")
    print(f"ratio hwnas / PyTorch     {h / t:8.2f}  (above the import: {h / (t - base):.2f})")


if __name__ == "__main__":
    main()
