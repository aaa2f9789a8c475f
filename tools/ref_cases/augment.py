"""Augmentation geometry: torchvision 0.14 functional ops on float tensors.

Fixed crop parameters (the random sampling is tested statistically in C):
resized_crop with bilinear, antialias=False (align_corners=False half-pixel
centres), hflip, Resize(shorter side) + CenterCrop, ColorJitter's brightness,
contrast and saturation with given factors, Normalize. Images are uint8 HWC
made with numpy; outputs are HWC float32 (hwnas NHWC without the batch).
"""
import math

import numpy as np
import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode, RandomResizedCrop

from ref_cases._layout import ints

RGB_MEAN, RGB_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
GRAY_MEAN, GRAY_STD = [0.2860], [0.3530]

# (top, left, height, width, out_h, out_w, flip)
CROPS = [
    (3, 5, 20, 31, 16, 16, 0),    # downsample
    (0, 0, 37, 53, 24, 24, 1),    # whole image, flipped
    (10, 40, 5, 7, 13, 11, 0),    # upsample at the right edge, odd output
    (30, 0, 7, 53, 9, 29, 1),     # bottom strip
    (0, 0, 37, 53, 37, 53, 0),    # identity
    (1, 2, 35, 50, 48, 64, 0),    # mild upsample
]
# (resize, crop)
CENTERS = [(20, 16), (37, 31), (24, 23), (25, 25)]
# RandomResizedCrop.get_params statistics: image shapes, draws per shape.
RRC_SHAPES = [(375, 500), (500, 375), (64, 64), (31, 97)]
RRC_DRAWS = 5000
# (crop index, brightness, contrast, saturation, order)
JITTERS = [(0, 1.3, 0.7, 1.2, (0, 1, 2)), (5, 0.6, 1.4, 0.5, (2, 0, 1)), (1, 1.1, 1.25, 0.8, (1, 2, 0))]


def make_image(h, w, c, seed):
    """Smooth gradients plus texture, so interpolation errors would show."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for k in range(c):
        base = 128 + 90 * np.sin(x / (3.0 + k) + y / (5.0 + 2 * k)) + 30 * np.cos(y / 2.3 - k)
        chans.append(base + rng.uniform(-25, 25, size=(h, w)))
    return np.clip(np.stack(chans, axis=-1), 0, 255).round().astype(np.uint8)


def to_tensor(img):
    """uint8 HWC -> float CHW in [0, 1] (what ToTensor gives)."""
    return torch.from_numpy(img).permute(2, 0, 1).float() / 255.0


def hwc(t):
    return t.permute(1, 2, 0).contiguous().numpy()


def crop(t, p):
    top, left, h, w, oh, ow, flip = p
    out = F.resized_crop(t, top, left, h, w, [oh, ow], interpolation=InterpolationMode.BILINEAR,
                         antialias=False)
    return F.hflip(out) if flip else out


def center(t, resize, size):
    out = F.resize(t, resize, interpolation=InterpolationMode.BILINEAR, antialias=False)
    return F.center_crop(out, [size, size])


def jitter(t, b, c, s, order):
    for op in order:
        if op == 0:
            t = F.adjust_brightness(t, b)
        elif op == 1:
            t = F.adjust_contrast(t, c)
        else:
            t = F.adjust_saturation(t, s)
    return t


def rrc_stats(h, w):
    """Mean and std of the area fraction and of log(w/h) over torchvision's draws."""
    img = torch.empty(1, h, w)
    area, logr = [], []
    for _ in range(RRC_DRAWS):
        _, _, ch, cw = RandomResizedCrop.get_params(img, [0.08, 1.0], [3.0 / 4.0, 4.0 / 3.0])
        area.append(ch * cw / (h * w))
        logr.append(math.log(cw / ch))
    return np.array([np.mean(area), np.std(area), np.mean(logr), np.std(logr), RRC_DRAWS], dtype=np.float32)


def cases():
    out = {}
    for h, w in RRC_SHAPES:
        out[f"rrc/{h}x{w}"] = rrc_stats(h, w)
    images = {
        "rgb": (make_image(37, 53, 3, 1), RGB_MEAN, RGB_STD),
        "portrait": (make_image(53, 37, 3, 2), RGB_MEAN, RGB_STD),
        "gray": (make_image(37, 53, 1, 3), GRAY_MEAN, GRAY_STD),
    }
    for name, (img, mean, std) in images.items():
        t = to_tensor(img)
        out[f"{name}/image"] = img.astype(np.int32)
        out[f"{name}/mean_std"] = np.array(mean + std, dtype=np.float32)
        for k, p in enumerate(CROPS):
            if name == "portrait":  # the same crops, transposed
                p = (p[1], p[0], p[3], p[2], p[5], p[4], p[6])
            out[f"{name}/crop{k}/params"] = ints(*p)
            out[f"{name}/crop{k}/out"] = hwc(F.normalize(crop(t, p), mean, std))
        for k, (resize, size) in enumerate(CENTERS):
            out[f"{name}/center{k}/params"] = ints(resize, size)
            out[f"{name}/center{k}/out"] = hwc(F.normalize(center(t, resize, size), mean, std))
        for k, (ci, b, c, s, order) in enumerate(JITTERS):
            if name == "portrait":
                continue
            out[f"{name}/jitter{k}/params"] = ints(ci, *order)
            out[f"{name}/jitter{k}/factors"] = np.array([b, c, s], dtype=np.float32)
            out[f"{name}/jitter{k}/out"] = hwc(F.normalize(jitter(crop(t, CROPS[ci]), b, c, s, order), mean, std))
    return out
