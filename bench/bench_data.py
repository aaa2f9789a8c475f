#!/usr/bin/python3
"""Data-loader throughput: hwnas's image-folder pipeline against torchvision.

Both decode JPEGs and apply RandomResizedCrop(224), a random horizontal flip
and normalization into float batches, with the same worker counts:
  hwnas:       `hwnas bench data` (or, while the CLI does not have the command
               yet, a small harness linked from src/cmd_bench_data.c and the
               build's libhwnas.a)
  torchvision: ImageFolder + DataLoader(shuffle, drop_last) with
               RandomResizedCrop, RandomHorizontalFlip, ToTensor, Normalize
Images/s count only the timed batches after warm-up (worker start-up excluded).

  /usr/bin/python3 bench/bench_data.py --root /tmp/fakenet        # existing folder
  /usr/bin/python3 bench/bench_data.py --make 800                 # generate one first
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
HARNESS_MAIN = "int bench_data_main(int, char**);\nint main(int c, char** v) { return bench_data_main(c, v); }\n"
LIBS = ["-fopenmp", "-lturbojpeg", "-lstb", "-lz", "-lm", "-lpthread", "-ldnnl", "-lyaml"]


def hwnas_command(args):
    """`hwnas bench data` when the binary has it, else a harness built here."""
    if os.access(args.hwnas, os.X_OK):
        r = subprocess.run([args.hwnas, "bench", "data", "--help"], capture_output=True, text=True)
        if r.returncode == 0 and "--root" in r.stdout:
            return [args.hwnas, "bench", "data"]
    lib = os.path.join(args.build, "libhwnas.a")
    if not os.path.exists(lib):
        subprocess.run(["make", f"BUILD={args.build}", "CUDA=0", lib], cwd=REPO, check=True)
    out = os.path.join(args.build, "bench_data_harness")
    with tempfile.TemporaryDirectory() as tmp:
        main_c = os.path.join(tmp, "main.c")
        with open(main_c, "w") as f:
            f.write(HARNESS_MAIN)
        subprocess.run(["gcc", "-std=c11", "-O3", "-march=native", "-D_POSIX_C_SOURCE=200809L", "-I", REPO, main_c,
                        os.path.join(REPO, "src/cmd_bench_data.c"), lib, "-o", out] + LIBS, check=True)
    print(f"bench_data: the hwnas binary has no `bench data` yet; using the harness {out}")
    return [out]


def bench_hwnas(cmd, args, workers):
    r = subprocess.run(cmd + ["--root", args.root, "--workers", str(workers), "--batches", str(args.batches),
                              "--batch", str(args.batch), "--size", str(args.size), "--warmup", str(args.warmup)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench_data: hwnas failed: {r.stderr.strip()}")
    fields = r.stdout.split()
    return float(fields[fields.index("images_per_s") + 1])


def bench_torchvision(args, workers):
    import torch
    import torchvision
    from torchvision import transforms as T
    tf = T.Compose([T.RandomResizedCrop(args.size), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    ds = torchvision.datasets.ImageFolder(os.path.join(args.root, "train"), transform=tf)
    g = torch.Generator()
    g.manual_seed(1)
    dl = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=workers, drop_last=True,
                                     generator=g)
    it = iter(dl)
    for _ in range(args.warmup):
        next(it)
    t0 = time.perf_counter()
    for _ in range(args.batches):
        try:
            next(it)
        except StopIteration:
            sys.exit("bench_data: the folder has too few images for --warmup + --batches batches")
    dt = time.perf_counter() - t0
    del it
    return args.batches * args.batch / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="image folder (ROOT/train/CLASS/*.JPEG)")
    ap.add_argument("--make", type=int, default=0, help="generate a folder of this many images first")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; the median is shown")
    ap.add_argument("--hwnas", default=os.path.join(REPO, "build/hwnas"))
    ap.add_argument("--build", default=os.path.join(REPO, "build"), help="build dir for the harness")
    args = ap.parse_args()
    tmp = None
    if args.make:
        tmp = tempfile.TemporaryDirectory(prefix="hwnas-bench-data-")
        args.root = tmp.name
        subprocess.run([sys.executable, os.path.join(REPO, "tools/make_imagefolder.py"), "--out", args.root,
                        "--count", str(args.make), "--classes", "10"], check=True)
    if not args.root:
        sys.exit("bench_data: give --root DIR or --make N")
    import torch
    torch.set_num_threads(1)
    cmd = hwnas_command(args)
    n = sum(len(files) for _, _, files in os.walk(os.path.join(args.root, "train")))
    print(f"bench_data: {args.root} ({n} images), batch {args.batch}, {args.size}x{args.size}, "
          f"{args.batches} timed batches after {args.warmup} warm-up, median of {args.repeat}; "
          f"{os.cpu_count()} cores shared with other work, so timings are noisy")
    print(f"{'workers':>7}  {'hwnas img/s':>12}  {'torchvision img/s':>18}  {'ratio':>6}")
    for w in [int(x) for x in args.workers.split(",")]:
        ours = statistics.median(bench_hwnas(cmd, args, w) for _ in range(args.repeat))
        theirs = statistics.median(bench_torchvision(args, w) for _ in range(args.repeat))
        print(f"{w:>7}  {ours:>12.1f}  {theirs:>18.1f}  {ours / theirs:>5.2f}x", flush=True)
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
