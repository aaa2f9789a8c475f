#!/usr/bin/python3
"""hwnas CPU ops against PyTorch CPU, same shapes and thread count, one run.

For each op of the C benchmark (bench/bench_ops.c, one RESULT line per op) the
same op is timed right after in PyTorch, so both see the same background load
on a shared machine. PyTorch runs in a worker subprocess with channels_last
tensors (its fastest CPU layout here) and, when installed, tcmalloc preloaded
(PyTorch's fast configuration on this machine: glibc malloc hands large
buffers back to the OS and page-faults them in again on every call). Prints a
table of GFLOP/s from median times, plus the ratios from minimum times, which
are steadier when other processes share the cores.

  /usr/bin/python3 bench/bench_ops.py --bin build/bench_ops [--threads 2]
      [--reps 5] [--filter op=depthwise] [--no-torch] [--omp-wait-policy passive]

Both sides get the same OMP_NUM_THREADS (and OMP_WAIT_POLICY when given:
passive keeps idle OpenMP workers from spinning, which is faster on a machine
whose cores other processes share).
"""
import argparse
import json
import os
import subprocess
import sys
import time

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
SHAPE_KEYS = ("op", "n", "h", "w", "cin", "cout", "k", "s")


def parse_fields(items):
    """['op=x', 'n=1', ...] -> dict, numbers as int or float."""
    fields = {}
    for item in items:
        key, value = item.split("=", 1)
        if key == "op":
            fields[key] = value
        else:
            fields[key] = float(value) if any(ch in value for ch in ".e") else int(value)
    return fields


def hwnas_cases(args):
    """[(index, spec dict)] of the benchmark's ops that match --filter."""
    cmd = [args.bin, "--list"] + (["--filter", args.filter] if args.filter else [])
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
    cases = []
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == "CASE":
            cases.append((int(parts[1]), parse_fields(parts[2:])))
    return cases


def omp_env(args):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if args.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    return env


def run_hwnas(args, index):
    cmd = [args.bin, "--threads", str(args.threads), "--reps", str(args.reps),
           "--case", str(index)]
    env = omp_env(args)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"bench_ops.py: {' '.join(cmd)} failed with status {proc.returncode}")
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return parse_fields(line.split()[1:])
    sys.exit(f"bench_ops.py: no RESULT line from {' '.join(cmd)}")


# ---- the PyTorch side (runs in the worker subprocess) ----------------------

def time_calls(fn, warmup, reps):
    """(median ms, min ms) of `reps` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return times[len(times) // 2], times[0]


def torch_case(case, warmup, reps):
    """Forward and backward (input + parameter gradients) times of one op."""
    import torch
    import torch.nn.functional as F
    n, h, w, cin, cout, k, s = (case[key] for key in SHAPE_KEYS[1:])
    x = torch.randn(n, cin, h, w).to(memory_format=torch.channels_last).requires_grad_(True)
    op = case["op"]
    if op in ("depthwise", "conv2d", "pointwise"):
        groups = cin if op == "depthwise" else 1
        weight = torch.randn(cout, cin // groups, k, k).to(memory_format=torch.channels_last)
        weight.requires_grad_(True)
        params = [x, weight]

        def forward():
            return F.conv2d(x, weight, None, s, k // 2, 1, groups)
    elif op == "batchnorm":
        gamma = torch.randn(cin, requires_grad=True)
        beta = torch.randn(cin, requires_grad=True)
        params = [x, gamma, beta]

        def forward():
            return F.batch_norm(x, None, None, gamma, beta, True, 0.1, 1e-5)
    elif op == "relu6":
        params = [x]

        def forward():
            return F.relu6(x)
    else:
        raise ValueError(op)
    with torch.no_grad():
        fwd, fwd_min = time_calls(forward, warmup, reps)
    y = forward()
    g = torch.randn_like(y)
    bwd, bwd_min = time_calls(lambda: torch.autograd.grad(y, params, g, retain_graph=True),
                              warmup, reps)
    return {"fwd_ms": fwd, "fwd_min_ms": fwd_min, "bwd_ms": bwd, "bwd_min_ms": bwd_min}


def torch_worker(threads, warmup, reps):
    """Answers one JSON case per stdin line with one JSON line of times."""
    import torch
    torch.set_num_threads(threads)
    print(json.dumps({"version": torch.__version__}), flush=True)
    for line in sys.stdin:
        print(json.dumps(torch_case(json.loads(line), warmup, reps)), flush=True)


class TorchWorker:
    def __init__(self, args):
        env = omp_env(args)
        self.tcmalloc = os.path.exists(TCMALLOC)
        if self.tcmalloc:
            env["LD_PRELOAD"] = TCMALLOC
        cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker",
               "--threads", str(args.threads), "--reps", str(args.reps)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        self.version = self._read()["version"]

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            sys.exit("bench_ops.py: the PyTorch worker died")
        return json.loads(line)

    def time(self, case):
        self.proc.stdin.write(json.dumps({key: case[key] for key in SHAPE_KEYS}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


# ---- report ------------------------------------------------------------------

def shape_text(c):
    if c["op"] in ("batchnorm", "relu6"):
        return f"{c['h']}x{c['w']}x{c['cin']}"
    if c["op"] == "depthwise":
        return f"{c['h']}x{c['w']}x{c['cin']} k{c['k']} s{c['s']}"
    return f"{c['h']}x{c['w']} {c['cin']}->{c['cout']} k{c['k']} s{c['s']}"


def gflops(flop, ms):
    return flop / (ms * 1e6) if ms > 0 else float("nan")


FMT = "{:<10} {:<22} {:>7} {:>8} {:>8} {:>6}  {:>7} {:>8} {:>8} {:>6}  {:>6} {:>6}  {:>5} {:>5}"


def print_header(header):
    print(header)
    print(FMT.format("op", "shape (batch 128)", "fwd ms", "fwd GF/s", "torch", "ratio",
                     "bwd ms", "bwd GF/s", "torch", "ratio", "min:fw", "min:bw", "fw%pk", "bw%pk"))


def print_row(c, t, peak):
    f_h, b_h = gflops(c["fwd_flop"], c["fwd_ms"]), gflops(c["bwd_flop"], c["bwd_ms"])
    cols = [c["op"], shape_text(c), f"{c['fwd_ms']:.2f}", f"{f_h:.1f}"]
    if t:
        f_t, b_t = gflops(c["fwd_flop"], t["fwd_ms"]), gflops(c["bwd_flop"], t["bwd_ms"])
        cols += [f"{f_t:.1f}", f"{f_h / f_t:.2f}", f"{c['bwd_ms']:.2f}", f"{b_h:.1f}",
                 f"{b_t:.1f}", f"{b_h / b_t:.2f}",
                 f"{t['fwd_min_ms'] / c['fwd_min_ms']:.2f}",
                 f"{t['bwd_min_ms'] / c['bwd_min_ms']:.2f}"]
    else:
        cols += ["-", "-", f"{c['bwd_ms']:.2f}", f"{b_h:.1f}", "-", "-", "-", "-"]
    cols += [f"{100 * f_h / peak:.0f}", f"{100 * b_h / peak:.0f}"]
    print(FMT.format(*cols), flush=True)


def measured_peak(args):
    """GFLOP/s of bench/peak_fma.c at args.threads, and the ISA it used."""
    out = subprocess.run([args.peak_bin, str(args.threads)], check=True, capture_output=True,
                         text=True).stdout
    fields = dict(kv.split("=") for kv in out.split() if "=" in kv)
    return float(fields["gflops"]), fields["isa"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", help="the bench_ops binary")
    ap.add_argument("--peak-bin", help="the peak_fma binary (bench/peak_fma.c)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--filter", default=None, help="substring of the 'op=.. n=.. h=..' specs")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--omp-wait-policy", choices=("active", "passive"), default=None)
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        torch_worker(args.threads, 2, args.reps)
        return
    if not args.bin or not args.peak_bin:
        ap.error("--bin and --peak-bin are required")
    start = time.time()
    peak, isa = measured_peak(args)
    print(f"measured FP32 FMA peak: {peak:.1f} GFLOP/s ({isa}, {args.threads} threads); "
          f"fw%pk, bw%pk = hwnas GFLOP/s as a percentage of it")
    worker = None if args.no_torch else TorchWorker(args)
    if worker:
        policy = f"; OMP_WAIT_POLICY={args.omp_wait_policy}" if args.omp_wait_policy else ""
        print_header(f"{args.threads} threads; torch {worker.version} channels_last"
                     f"{' with tcmalloc' if worker.tcmalloc else ''}; median of {args.reps} "
                     f"after 2 warm-up calls{policy}")
    else:
        print_header(f"hwnas only, {args.threads} threads, median of {args.reps}")
    for index, _ in hwnas_cases(args):
        result = run_hwnas(args, index)
        print_row(result, worker.time(result) if worker else None, peak)
    if worker:
        worker.close()
    print("ratio = hwnas / torch GFLOP/s (> 1: hwnas faster), from medians; min:fw, min:bw = "
          "the same ratios from minimum times.\nGFLOP/s count 2 per multiply-add; backward = "
          "input + parameter gradients; batchnorm / relu6 count a nominal\n1 FLOP per element "
          "per pass over the data (only the ratios are meaningful there).")
    print(f"({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
