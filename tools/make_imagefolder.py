#!/usr/bin/python3
"""Generates an ImageNet-like image folder for loader benchmarks and tests.

ROOT/train/classNN/imgNNNNNN.JPEG (and ROOT/val/... with --val): about
500x375 (a fifth of them portrait), JPEG quality 90, made of a smooth random
colour field, random shapes and sensor-like noise so they compress like
photos (~100 KB each). Deterministic for a given --seed.

  /usr/bin/python3 tools/make_imagefolder.py --out /tmp/fakenet --count 1000 --classes 10
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def make_image(rng, width, height):
    # Smooth colour field: a coarse random grid upsampled bicubically.
    grid = rng.integers(0, 256, size=(rng.integers(3, 7), rng.integers(3, 7), 3), dtype=np.uint8)
    img = Image.fromarray(grid, "RGB").resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.integers(4, 12)):
        x0, y0 = int(rng.integers(-50, width)), int(rng.integers(-50, height))
        x1, y1 = x0 + int(rng.integers(20, width // 2)), y0 + int(rng.integers(20, height // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        elif kind == 1:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        else:
            pts = [(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(3)]
            draw.polygon(pts, fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.5, 2.0))))
    # Fine texture and noise, which is what makes photos ~100 KB at quality 90.
    arr = np.asarray(img, dtype=np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    texture = 12.0 * np.sin(xx / rng.uniform(1.5, 4.0) + yy / rng.uniform(2.0, 6.0))[..., None]
    arr = arr + texture + rng.normal(0.0, 20.0, size=arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def write_split(root, split, count, classes, rng):
    for c in range(classes):
        os.makedirs(os.path.join(root, split, f"class{c:02d}"), exist_ok=True)
    total = 0
    for i in range(count):
        w, h = (375, 500) if rng.random() < 0.2 else (500, 375)
        path = os.path.join(root, split, f"class{i % classes:02d}", f"img{i:06d}.JPEG")
        make_image(rng, w, h).save(path, "JPEG", quality=90)
        total += os.path.getsize(path)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=1000, help="training images")
    ap.add_argument("--val", type=int, default=0, help="validation images")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    size = write_split(args.out, "train", args.count, args.classes, rng)
    print(f"make_imagefolder: {args.count} training images in {args.out}/train, "
          f"{size / max(args.count, 1) / 1024:.0f} KB on average")
    if args.val:
        write_split(args.out, "val", args.val, args.classes, rng)
        print(f"make_imagefolder: {args.val} validation images in {args.out}/val")


if __name__ == "__main__":
    main()
