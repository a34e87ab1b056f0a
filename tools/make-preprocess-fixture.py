#!/usr/bin/env python3
"""timm's own evaluation transform as the golden for Fovea's preprocessing, written to
tests/src/test/resources/fixtures/:

  preprocess_a.png, preprocess_b.png, preprocess_c.png   the input images (RGB; 97x61, 300x200, 13x20)
  preprocess.safetensors  for each case, the [C, H, W] tensor that timm.data.create_transform(**resolve_data_config(
                          pretrained_cfg=...)) makes of the image (Pillow's resize, torchvision's CenterCrop, ToTensor,
                          Normalize); the case's pretrained_cfg is in the metadata as JSON

A grey model's case converts the image with Pillow's convert("L") first (timm's datasets convert to "RGB"; Fovea
converts to the model's channels). Deterministic: running this again writes the same files.

Usage (timm 1.0.29 and torchvision 0.29 from the local wheel store, without their dependencies; torchvision's
operator registrations, which fail to load with the CPU build of torch 2.13, are not needed for PIL transforms and
are stubbed out below):
  python3 -m venv V && V/bin/pip install torch==2.13.0+cpu numpy pillow
  V/bin/pip install --no-deps --target /tmp/tvlib torchvision==0.29.1 timm==1.0.29
  PYTHONPATH=/tmp/tvlib V/bin/python tools/make-preprocess-fixture.py"""
import importlib, json, os, sys, types
import numpy as np
from PIL import Image

sys.modules['torchvision._meta_registrations'] = types.ModuleType('torchvision._meta_registrations')
from timm.data import create_transform, resolve_data_config  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
fixtures = importlib.import_module('make-task-fixtures')       # its safetensors writer
OUT = fixtures.OUT


def image(name, w, h, seed):
    """Smooth gradients, hard edges and noise: every resampling path (shrink, enlarge, clamp at 0 and 255) matters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = 255 * x / max(w - 1, 1)
    g = 255 * (((x // 7) + (y // 5)) % 2)
    b = 127 + 120 * np.sin(x / 3.0) * np.cos(y / 4.0)
    a = np.stack([r, g, b], -1) + rng.normal(0, 20, (h, w, 3))
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), 'RGB')
    img.save(os.path.join(OUT, name))
    return img


A, B, C = 'preprocess_a.png', 'preprocess_b.png', 'preprocess_c.png'
IMAGES = {A: image(A, 97, 61, 1), B: image(B, 300, 200, 2), C: image(C, 13, 20, 3)}
CASES = {
    # name: (image file, mode, pretrained_cfg)
    'a_rgb_224': (A, 'RGB', dict(input_size=(3, 224, 224), interpolation='bicubic', crop_pct=0.875,
                                 mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))),
    'b_rgb_64_bilinear': (B, 'RGB', dict(input_size=(3, 64, 64), interpolation='bilinear', crop_pct=1.0, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))),
    'b_rgb_32_crop': (B, 'RGB', dict(input_size=(3, 32, 32), interpolation='bicubic', crop_pct=0.9, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))),
    'c_rgb_64': (C, 'RGB', dict(input_size=(3, 64, 64), interpolation='bicubic', crop_pct=0.875,
                                mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))),
    'a_grey_28': (A, 'L', dict(input_size=(1, 28, 28), interpolation='bicubic', crop_pct=1.0, mean=(0.286,), std=(0.353,))),
}

if __name__ == '__main__':
    tensors, meta = {}, {}
    for name, (img, mode, cfg) in CASES.items():
        t = create_transform(**resolve_data_config({}, pretrained_cfg=cfg))
        tensors[name] = t(IMAGES[img].convert(mode))
        meta[name] = json.dumps(dict(cfg, image=img, mode=mode))
    fixtures.write('preprocess.safetensors', tensors, meta)
    print('wrote preprocess.safetensors and preprocess_{a,b,c}.png in', os.path.normpath(OUT))
