#!/usr/bin/env python3
"""Writes tests/src/test/resources/fixtures/posemb_resample.safetensors: random position embeddings and their
bicubic resampling as timm's resample_abs_pos_embed does it (F.interpolate bicubic with antialias=True). PyTorch's
antialiased bicubic is a port of Pillow's resampler (Keys' cubic with a = -0.5, support widened by the scale when
shrinking, weights normalised per output), so Pillow's float ('F') resize is the independent reference here.
Usage: python3 tools/make-posemb-fixture.py   (needs numpy and pillow)"""
import json, struct
import numpy as np
from PIL import Image

rng = np.random.default_rng(7)
tensors, meta = {}, {}
# (name, prefix tokens, old grid h, w, new grid h, w, dim)
cases = [('up', 1, 4, 4, 7, 7, 5), ('down', 1, 14, 14, 8, 8, 3), ('noprefix', 0, 3, 3, 5, 2, 4)]
for name, prefix, oh, ow, nh, nw, d in cases:
    pe = rng.standard_normal((1, prefix + oh * ow, d)).astype(np.float32)
    grid = pe[0, prefix:].reshape(oh, ow, d)
    out = np.stack([np.asarray(Image.fromarray(grid[:, :, c], mode='F').resize((nw, nh), Image.BICUBIC), dtype=np.float32)
                    for c in range(d)], axis=-1)
    res = np.concatenate([pe[0, :prefix], out.reshape(nh * nw, d)], axis=0)[None].astype(np.float32)
    tensors[name + '.in'], tensors[name + '.out'] = pe, res
    meta[name] = json.dumps(dict(prefix=prefix, old=[oh, ow], new=[nh, nw]))
header, blobs, off = {'__metadata__': meta}, [], 0
for k, v in tensors.items():
    b = np.ascontiguousarray(v).tobytes()
    header[k] = dict(dtype='F32', shape=list(v.shape), data_offsets=[off, off + len(b)])
    blobs.append(b); off += len(b)
h = json.dumps(header).encode()
h += b' ' * (-len(h) % 8)
with open('tests/src/test/resources/fixtures/posemb_resample.safetensors', 'wb') as f:
    f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
