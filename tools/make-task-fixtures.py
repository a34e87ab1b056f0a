#!/usr/bin/env python3
"""PyTorch goldens for the models and losses beyond classification, written to tests/src/test/resources/fixtures/:

  decoder_cross.safetensors  the Transformer decoder with cross-attention (the captioner's): logits for token ids and
                             encoder tokens, every parameter's gradient and the memory's, and greedy decoding
                             recomputed from scratch at every step (what the cached decoding must equal)
  decoder_only.safetensors   the same without cross-attention (the generator's, GPT-2's block)
  scenenet.safetensors       SceneNet with all its heads (cell classes, boxes and corners, per-pixel classes, image
                             class): every head's output, every parameter's gradient and the input's
  losses.safetensors         smooth-L1 (mean and weighted sum), GIoU (mean and weighted sum) and Dice: loss and
                             gradient

Each model is a plain-PyTorch twin of Fovea's, with Fovea's parameter names; gradients are of
L = sum over the outputs of output * r, r random and stored beside them (io.r.*). Parameters are drawn at random
(norm gains around 1) so that every path carries signal. Fixed seed: running this again writes the same files.
Usage: python3 tools/make-task-fixtures.py   (needs torch and numpy: pip install torch==2.13.0+cpu numpy)"""
import json, math, os, struct
import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(2026)
torch.set_default_dtype(torch.float32)
OUT = os.path.join(os.path.dirname(__file__), '..', 'tests', 'src', 'test', 'resources', 'fixtures')


def write(name, tensors, meta):
    header, blobs, off = {'__metadata__': {k: str(v) for k, v in meta.items()}}, [], 0
    for k, v in tensors.items():
        a = v.detach().contiguous().numpy()
        dtype = {np.dtype('float32'): 'F32', np.dtype('int64'): 'I64'}[a.dtype]
        b = a.tobytes()
        header[k] = dict(dtype=dtype, shape=list(a.shape), data_offsets=[off, off + len(b)])
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


class Params:
    """Named leaf tensors, drawn at random, in declaration order."""

    def __init__(self):
        self.p = {}

    def add(self, name, *shape, scale=0.2, around=0.0):
        t = (around + scale * torch.randn(*shape)).requires_grad_()
        self.p[name] = t
        return t

    def __getitem__(self, name):
        return self.p[name]

    def linear(self, name, fan_in, fan_out):
        self.add(name + '.weight', fan_out, fan_in, scale=1 / math.sqrt(fan_in))
        self.add(name + '.bias', fan_out, scale=0.1)

    def norm(self, name, dim):
        self.add(name + '.weight', dim, scale=0.1, around=1.0)
        self.add(name + '.bias', dim, scale=0.1)

    def attention(self, block, dim):
        """A pre-norm block's first half: norm1 and self-attention's qkv and proj."""
        self.norm(block + '.norm1', dim)
        self.linear(block + '.attn.qkv', dim, 3 * dim)
        self.linear(block + '.attn.proj', dim, dim)

    def mlp(self, block, norm, dim):
        """A pre-norm block's MLP: its norm, fc1 (4x wider) and fc2."""
        self.norm(norm, dim)
        self.linear(block + '.mlp.fc1', dim, 4 * dim)
        self.linear(block + '.mlp.fc2', 4 * dim, dim)


def lin(P, name, x):
    return F.linear(x, P[name + '.weight'], P[name + '.bias'])


def ln(P, name, x):
    return F.layer_norm(x, (x.shape[-1],), P[name + '.weight'], P[name + '.bias'], eps=1e-6)


def mlp(P, name, x):
    return lin(P, name + '.fc2', F.gelu(lin(P, name + '.fc1', x)))


def self_attention(P, name, x, heads, causal):
    b, t, d = x.shape
    qkv = lin(P, name + '.qkv', x).reshape(b, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    o = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_causal=causal)
    return lin(P, name + '.proj', o.transpose(1, 2).reshape(b, t, d))


def cross_attention(P, name, x, m, heads):
    b, t, d = x.shape
    q = lin(P, name + '.q', x).reshape(b, t, heads, d // heads).transpose(1, 2)
    kv = lin(P, name + '.kv', m).reshape(b, m.shape[1], 2, heads, d // heads).permute(2, 0, 3, 1, 4)
    o = F.scaled_dot_product_attention(q, kv[0], kv[1])
    return lin(P, name + '.proj', o.transpose(1, 2).reshape(b, t, d))


# ---------------------------------------------------------------- the Transformer decoder

def decoder_params(vocab, max_len, dim, depth, cross):
    P = Params()
    P.add('tok_embed', vocab, dim, scale=0.5)
    P.add('pos_embed', 1, max_len, dim, scale=0.2)
    for i in range(depth):
        n = 'blocks.%d' % i
        P.attention(n, dim)
        if cross:
            P.norm(n + '.norm2', dim)
            P.linear(n + '.cross.q', dim, dim)
            P.linear(n + '.cross.kv', dim, 2 * dim)
            P.linear(n + '.cross.proj', dim, dim)
        P.mlp(n, n + ('.norm3' if cross else '.norm2'), dim)
    P.norm('norm', dim)
    P.linear('head', dim, vocab)
    return P


def decoder_logits(P, ids, memory, depth, heads, cross):
    x = P['tok_embed'][ids] + P['pos_embed'][:, :ids.shape[1]]
    for i in range(depth):
        n = 'blocks.%d' % i
        x = x + self_attention(P, n + '.attn', ln(P, n + '.norm1', x), heads, True)
        if cross:
            x = x + cross_attention(P, n + '.cross', ln(P, n + '.norm2', x), memory, heads)
        x = x + mlp(P, n + '.mlp', ln(P, n + ('.norm3' if cross else '.norm2'), x))
    return lin(P, 'head', ln(P, 'norm', x))


def decoder_fixture(name, cross):
    vocab, max_len, dim, depth, heads, b, length, m, bos, eos = 13, 12, 16, 2, 4, 3, 7, 5, 1, 2
    P = decoder_params(vocab, max_len, dim, depth, cross)
    ids = torch.randint(0, vocab, (b, length))
    memory = torch.randn(b, m, dim).requires_grad_() if cross else None
    logits = decoder_logits(P, ids, memory, depth, heads, cross)
    r = torch.randn_like(logits)
    (logits * r).sum().backward()
    t = dict(P.p)
    t.update({'io.ids': ids, 'io.logits': logits, 'io.r.logits': r})
    t.update({'grad.' + k: v.grad for k, v in P.p.items()})
    if cross:
        t['io.memory'] = memory
        t['io.grad.memory'] = memory.grad
    # greedy decoding, the whole prefix recomputed at every step; -1 pads a sequence that ended (eos excluded)
    with torch.no_grad():
        start = torch.randint(3, vocab, (b, 1)) if not cross else torch.full((b, 1), bos)
        seqs, done = start.clone(), torch.zeros(b, dtype=torch.bool)
        for _ in range(max_len - 1):
            nxt = decoder_logits(P, seqs, memory, depth, heads, cross)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, eos), nxt) if cross else nxt
            seqs = torch.cat([seqs, nxt[:, None]], 1)
            done |= nxt == eos
        out = torch.full((b, max_len - 1), -1, dtype=torch.int64)
        for i in range(b):
            row = seqs[i, 1:].tolist()
            if cross and eos in row:
                row = row[:row.index(eos)]
            out[i, :len(row)] = torch.tensor(row, dtype=torch.int64)
        t['io.start'] = start
        t['io.greedy'] = out
    write(name, t, dict(vocab=vocab, max_len=max_len, dim=dim, depth=depth, heads=heads, cross=str(cross).lower(), bos=bos, eos=eos))


# ---------------------------------------------------------------- SceneNet

def scenenet_fixture():
    img, chans, classes, dim, depth, heads, b, stride = 16, 3, 3, 16, 1, 2, 2, 8
    g, n, outs = img // stride, (img // stride) ** 2, 1 + classes
    P = Params()
    for name, cin, cout, k in (('stem.0', chans, dim // 2, 3), ('stem.1', dim // 2, dim, 3), ('stem.2', dim, dim, 2)):
        P.add(name + '.weight', cout, cin, k, k, scale=1 / math.sqrt(cin * k * k))
        P.add(name + '.bias', cout, scale=0.1)
    P.add('pos_embed', 1, n, dim, scale=0.2)
    for i in range(depth):
        blk = 'blocks.%d' % i
        P.attention(blk, dim)
        P.mlp(blk, blk + '.norm2', dim)
    P.norm('norm', dim)
    P.linear('cls_head', dim, outs)
    P.linear('box_head', dim, 4)
    P.linear('image_head', dim, classes)
    P.linear('seg_head', dim + stride * stride * chans, stride * stride * outs)

    x = torch.randn(b, chans, img, img).requires_grad_()
    h = F.gelu(F.conv2d(x, P['stem.0.weight'], P['stem.0.bias'], stride=2, padding=1))
    h = F.gelu(F.conv2d(h, P['stem.1.weight'], P['stem.1.bias'], stride=2, padding=1))
    h = F.conv2d(h, P['stem.2.weight'], P['stem.2.bias'], stride=2)
    h = h.reshape(b, dim, n).transpose(1, 2) + P['pos_embed']
    for i in range(depth):
        blk = 'blocks.%d' % i
        h = h + self_attention(P, blk + '.attn', ln(P, blk + '.norm1', h), heads, False)
        h = h + mlp(P, blk + '.mlp', ln(P, blk + '.norm2', h))
    tokens = ln(P, 'norm', h)
    cls = lin(P, 'cls_head', tokens).reshape(b * n, outs)
    box = torch.sigmoid(lin(P, 'box_head', tokens).reshape(b * n, 4))
    centre = torch.tensor([[(q % g * stride + stride / 2) / img, (q // g * stride + stride / 2) / img] * 2 for q in range(n)])
    corners = (box.reshape(b, n, 4) * torch.tensor([-1., -1., 1., 1.]) + centre).reshape(b * n, 4)
    px = x.reshape(b, chans, g, stride, g, stride).permute(0, 2, 4, 3, 5, 1).reshape(b, n, stride * stride * chans)
    seg = lin(P, 'seg_head', torch.cat([tokens, px], 2)).reshape(b * n * stride * stride, outs)
    image = lin(P, 'image_head', tokens.mean(1))
    outs_ = dict(cls=cls, box=box, corners=corners, seg=seg, image=image)
    rs = {k: torch.randn_like(v) for k, v in outs_.items()}
    sum((outs_[k] * rs[k]).sum() for k in outs_).backward()
    t = dict(P.p)
    t['io.input'] = x
    t['io.grad.input'] = x.grad
    for k in outs_:
        t['io.' + k] = outs_[k]
        t['io.r.' + k] = rs[k]
    t.update({'grad.' + k: v.grad for k, v in P.p.items()})
    write('scenenet.safetensors', t, dict(img_size=img, in_chans=chans, classes=classes, dim=dim, depth=depth, heads=heads))


# ---------------------------------------------------------------- losses

def boxes(k):
    xy = torch.rand(k, 2)
    wh = 0.1 + 0.5 * torch.rand(k, 2)
    return torch.cat([xy, xy + wh], 1)


def giou_each(p, g, eps):
    area_p = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1])
    area_g = (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1])
    iw = (torch.minimum(p[:, 2], g[:, 2]) - torch.maximum(p[:, 0], g[:, 0])).clamp(min=0)
    ih = (torch.minimum(p[:, 3], g[:, 3]) - torch.maximum(p[:, 1], g[:, 1])).clamp(min=0)
    inter = iw * ih
    union = area_p + area_g - inter + eps
    hull = (torch.maximum(p[:, 2], g[:, 2]) - torch.minimum(p[:, 0], g[:, 0])) * (torch.maximum(p[:, 3], g[:, 3]) - torch.minimum(p[:, 1], g[:, 1])) + eps
    return (inter / union - (hull - union) / hull)[:, None]


def losses_fixture():
    beta, giou_eps, dice_eps = 0.3, 1e-6, 1.0
    t = {}

    def case(name, pred, loss_fn, **extra):
        pred = pred.clone().requires_grad_()
        loss = loss_fn(pred)
        loss.backward()
        t[name + '.pred'] = pred
        t[name + '.loss'] = loss.reshape(1)
        t[name + '.grad'] = pred.grad
        for k, v in extra.items():
            t[name + '.' + k] = v

    target = torch.randn(5, 4)
    weight = (torch.rand(5, 4) > 0.3).float()
    pred = target + 0.5 * torch.randn(5, 4)           # some |d| below beta, most above
    case('smoothl1', pred, lambda p: F.smooth_l1_loss(p, target, beta=beta), target=target)
    case('smoothl1w', pred, lambda p: (F.smooth_l1_loss(p, target, beta=beta, reduction='none') * weight).sum(), target=target, weight=weight)
    gt = boxes(6)
    pb = boxes(6)
    pb[:3] = gt[:3] + 0.05 * torch.randn(3, 4)        # three overlapping pairs, three mostly apart
    pb[:3, 2:] = torch.maximum(pb[:3, 2:], pb[:3, :2] + 0.05)
    gw = (torch.rand(6, 1) > 0.3).float()
    case('giou', pb, lambda p: (1 - giou_each(p, gt, giou_eps)).mean(), target=gt)
    case('giouw', pb, lambda p: ((1 - giou_each(p, gt, giou_eps)) * gw).sum(), target=gt, weight=gw)
    prob = torch.sigmoid(torch.randn(2, 3, 4, 4))
    y = (torch.rand(2, 3, 4, 4) > 0.6).float()
    case('dice', prob, lambda p: 1 - (2 * (p * y).sum() + dice_eps) / (p.sum() + y.sum() + dice_eps), target=y)
    write('losses.safetensors', t, dict(beta=beta, giou_eps=giou_eps, dice_eps=dice_eps))


if __name__ == '__main__':
    decoder_fixture('decoder_cross.safetensors', True)
    decoder_fixture('decoder_only.safetensors', False)
    scenenet_fixture()
    losses_fixture()
    print('wrote decoder_cross, decoder_only, scenenet and losses .safetensors in', os.path.normpath(OUT))
