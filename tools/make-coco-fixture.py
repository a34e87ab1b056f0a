#!/usr/bin/env python3
"""Writes tests/src/test/resources/fixtures/coco_eval.json: a small COCO-format ground truth (with crowd regions),
detections (boxes, RLE masks, scores with ties) and what pycocotools' COCOeval reports for them (bbox and segm:
AP over IoU 0.50:0.95, AP50, AP75), plus masks with pycocotools' compressed RLE strings. The Java metrics and RLE
codec are checked against these numbers. Usage: python3 tools/make-coco-fixture.py   (needs numpy, pycocotools)"""
import contextlib, io, json
import numpy as np
from pycocotools import mask as mu
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

rng = np.random.default_rng(11)
H = W = 32
cats = [{"id": c, "name": "c%d" % c} for c in (1, 2, 3)]

def ellipse(x, y, w, h):
    yy, xx = np.mgrid[0:H, 0:W]
    m = (((xx + 0.5 - (x + w / 2)) / (w / 2)) ** 2 + ((yy + 0.5 - (y + h / 2)) / (h / 2)) ** 2 <= 1).astype(np.uint8)
    return m

def rle(m):
    r = mu.encode(np.asfortranarray(m))
    return {"size": [H, W], "counts": r["counts"].decode()}

def tight(m):
    ys, xs = np.nonzero(m)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]

images, gts, dets = [], [], []
aid = 1
for i in range(1, 13):
    images.append({"id": i, "file_name": "%d.png" % i, "width": W, "height": H})
    for _ in range(rng.integers(0, 5)):
        w, h = int(rng.integers(5, 16)), int(rng.integers(5, 16))
        x, y = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
        m = ellipse(x, y, w, h)
        if m.sum() == 0: continue
        crowd = int(rng.random() < 0.15)
        c = int(rng.integers(1, 4))
        gts.append({"id": aid, "image_id": i, "category_id": c, "bbox": tight(m), "area": int(m.sum()), "iscrowd": crowd, "segmentation": rle(m)})
        aid += 1
        for _ in range(rng.integers(0, 3)):                                  # detections near this object
            dx, dy = (int(v) for v in rng.integers(-1, 2, 2)); dw, dh = (int(v) for v in rng.integers(-2, 3, 2))
            xx, yy, ww, hh = max(0, x + dx), max(0, y + dy), max(2, w + dw), max(2, h + dh)
            dm = ellipse(xx, yy, min(ww, W - xx), min(hh, H - yy))
            if dm.sum() == 0: continue
            dc = c if rng.random() < 0.8 else int(rng.integers(1, 4))
            dets.append({"image_id": i, "category_id": dc, "bbox": [float(v) for v in tight(dm)], "score": round(float(rng.random()), 1), "segmentation": rle(dm)})
    for _ in range(rng.integers(0, 3)):                                      # false positives anywhere
        w, h = int(rng.integers(4, 12)), int(rng.integers(4, 12))
        x, y = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
        dm = ellipse(x, y, w, h)
        if dm.sum() == 0: continue
        dets.append({"image_id": i, "category_id": int(rng.integers(1, 4)), "bbox": [float(v) for v in tight(dm)], "score": round(float(rng.random()), 1), "segmentation": rle(dm)})

gt_json = {"images": images, "categories": cats, "annotations": gts}
out = {"ground_truth": gt_json, "detections": dets}
for iou_type in ("bbox", "segm"):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(); coco.dataset = json.loads(json.dumps(gt_json)); coco.createIndex()
        cd = coco.loadRes(json.loads(json.dumps(dets)))
        ev = COCOeval(coco, cd, iou_type); ev.evaluate(); ev.accumulate(); ev.summarize()
    out[iou_type] = {"ap": ev.stats[0], "ap50": ev.stats[1], "ap75": ev.stats[2]}
masks = []
for k in range(4):
    m = (rng.random((H, W)) < [0.05, 0.3, 0.6, 0.97][k]).astype(np.uint8)
    masks.append({"pixels": m.flatten().tolist(), "counts": rle(m)["counts"]})
out["masks"] = masks
json.dump(out, open("tests/src/test/resources/fixtures/coco_eval.json", "w"))
print("gt", len(gts), "dets", len(dets), "bbox", out["bbox"], "segm", out["segm"])
