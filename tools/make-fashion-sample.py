#!/usr/bin/env python3
"""Writes the Fashion-MNIST sample of the artifact fovea-fashion-sample (fashion-sample/): the first N records of Debian's dataset-fashion-mnist files.
Usage: python3 tools/make-fashion-sample.py [/usr/share/datasets/fashion-mnist]"""
import gzip, struct, sys
src = (sys.argv[1] if len(sys.argv) > 1 else '/usr/share/datasets/fashion-mnist') + '/'
dst = 'fashion-sample/src/main/resources/fashion-mnist-sample/'
for split, n in (('train', 4000), ('t10k', 1000)):
    im = gzip.open(src + split + '-images-idx3-ubyte.gz').read()
    lb = gzip.open(src + split + '-labels-idx1-ubyte.gz').read()
    for name, data in ((split + '-images-idx3-ubyte.gz', struct.pack('>IIII', 0x803, n, 28, 28) + im[16:16 + n * 784]),
                       (split + '-labels-idx1-ubyte.gz', struct.pack('>II', 0x801, n) + lb[8:8 + n])):
        with gzip.GzipFile(dst + name, 'wb', mtime=0, compresslevel=9) as f:
            f.write(data)
