#!/usr/bin/python3
"""Independent PyTorch reference for the hwnas op library.

Each module in tools/ref_cases/ builds cases for one op family with PyTorch
(NCHW, OIHW, autograd) and converts them to hwnas layouts (NHWC, OHWI, [k][k][c])
before saving, so the C tests compare buffers directly. Run with Debian's
python3-torch: /usr/bin/python3 tools/torch_reference.py --out build/ref
"""
import argparse
import importlib
import os
import pkgutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import refio  # noqa: E402

try:
    import torch  # noqa: F401
except ImportError:
    sys.exit("torch_reference.py: PyTorch is missing; run tools/install-deps.sh "
             "(Debian python3-torch) and use /usr/bin/python3")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="directory for <family>.bin files")
    ap.add_argument("--only", default=None, help="comma-separated families")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    only = set(args.only.split(",")) if args.only else None
    import ref_cases
    for info in sorted(pkgutil.iter_modules(ref_cases.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or (only and info.name not in only):
            continue
        mod = importlib.import_module(f"ref_cases.{info.name}")
        torch.manual_seed(1234)
        tensors = mod.cases()
        path = os.path.join(args.out, f"{info.name}.bin")
        tmp = f"{path}.tmp{os.getpid()}"
        refio.write(tmp, tensors)
        os.replace(tmp, path)
        print(f"torch_reference: {path}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
