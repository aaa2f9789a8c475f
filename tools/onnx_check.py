#!/usr/bin/python3
"""Checks ONNX models with python3-onnx (a consumer hwnas did not write):
onnx.checker.check_model(full_check=True) and strict shape inference.

  /usr/bin/python3 tools/onnx_check.py MODEL.onnx [MODEL.onnx ...]
Prints one line per model; exits 1 when any fails, 2 when onnx is missing.
"""
import sys

try:
    import onnx
except ImportError:
    print("onnx_check: python3-onnx is not installed (run tools/install-deps.sh)", file=sys.stderr)
    sys.exit(2)


def check(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    out = inferred.graph.output[0]
    dims = [d.dim_value or d.dim_param for d in out.type.tensor_type.shape.dim]
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    print(f"{path}: ok, opset {opset}, {len(model.graph.node)} nodes, output {out.name} {dims}")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for path in sys.argv[1:]:
        try:
            check(path)
        except Exception as e:  # the checker raises several exception types
            print(f"{path}: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
