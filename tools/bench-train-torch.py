#!/usr/bin/env python3
"""The PyTorch side of `fovea bench train`: the same model, batch, threads and step (forward, cross-entropy,
backward, SGD with momentum 0.9 at lr 0.01, no weight decay) in PyTorch eager mode on the CPU.

Alone it warms up and prints each timed window and the line
    train model=M batch=B threads=T peer=pytorch images_per_s=X
With --serve it waits for commands on standard input, one per line, so that `fovea bench train --pytorch PYTHON`
can alternate windows with its own: it first says "ready torch=V threads=T parameters=P" (Fovea checks P against its
model's), then takes "warmup S" (answers "ok"), "window S" (answers "rate X", images per second) and "quit". Inputs are random: the time of a step does not depend on the pixel values.

Needs torch (2.13.0+cpu from the local wheel store: python3 -m venv V && V/bin/pip install torch==2.13.0+cpu).
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5Full(nn.Module):
    """Fovea's lenet5-full, as PyTorch tutorials define LeNet-5: tanh, average pooling, C3 reading all six maps."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.f5 = nn.Linear(400, 120)
        self.f6 = nn.Linear(120, 84)
        self.out = nn.Linear(84, 10)

    def forward(self, x):                                   # x [N, 1, 28, 28]
        x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)        # [N, 6, 14, 14]
        x = F.avg_pool2d(torch.tanh(self.c3(x)), 2)        # [N, 16, 5, 5]
        x = torch.tanh(self.f5(x.flatten(1)))              # [N, 120]
        x = torch.tanh(self.f6(x))                         # [N, 84]
        return self.out(x)                                 # [N, 10]


class Block(nn.Module):
    """A pre-norm transformer block as timm's vision_transformer.py has it."""

    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, int(dim * mlp_ratio))
        self.fc2 = nn.Linear(int(dim * mlp_ratio), dim)

    def forward(self, x):                                   # x [N, T, D]
        n, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])          # [N, H, T, D/H]
        x = x + self.proj(a.transpose(1, 2).reshape(n, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    """Fovea's default ViT (Models.VIT_FASHION): 28x28 grey images, 4x4 patches, width 64, 4 blocks of 4 heads, MLP 4x,
    a class token and learned position embeddings, the class token's final state to the head."""

    def __init__(self, img=28, patch=4, dim=64, depth=4, heads=4, mlp_ratio=4.0, classes=10):
        super().__init__()
        self.patch_embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, (img // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):                                   # x [N, 1, 28, 28]
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # [N, 49, D]
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])                           # [N, 10]


MODELS = {"lenet5-full": LeNet5Full, "vit": ViT}


class Bench:
    def __init__(self, model, batch, compile_):
        torch.manual_seed(1)
        self.net = MODELS[model]()
        self.step_fn = torch.compile(self.step) if compile_ else self.step
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01, momentum=0.9)
        self.x = torch.randn(batch, 1, 28, 28)
        self.y = torch.randint(0, 10, (batch,))
        self.batch = batch

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.net(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def run_for(self, seconds):
        """Images per second over whole steps for about {seconds}."""
        t0 = time.perf_counter()
        images = 0
        while True:
            self.step_fn()
            images += self.batch
            if time.perf_counter() - t0 >= seconds:
                return images / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="lenet5-full", choices=sorted(MODELS))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--warmup", type=float, default=6)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2)
    p.add_argument("--compile", action="store_true", help="torch.compile the step")
    p.add_argument("--serve", action="store_true", help="take warmup/window/quit commands on standard input")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    bench = Bench(a.model, a.batch, a.compile)
    if a.serve:
        params = sum(q.numel() for q in bench.net.parameters())
        print("ready torch=%s threads=%d parameters=%d" % (torch.__version__, torch.get_num_threads(), params), flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                return
            if cmd[0] == "warmup":
                bench.run_for(float(cmd[1]))
                print("ok", flush=True)
            elif cmd[0] == "window":
                print("rate %.3f" % bench.run_for(float(cmd[1])), flush=True)
            else:
                print("error unknown command %r" % line.strip(), flush=True)
        return
    bench.run_for(a.warmup)
    rates = []
    for r in range(a.repeats):
        rates.append(bench.run_for(a.seconds))
        print("  repeat %d: %.0f images/s" % (r + 1, rates[-1]))
    print("train model=%s batch=%d threads=%d peer=pytorch images_per_s=%.0f" % (a.model, a.batch, a.threads, statistics.median(rates)))


if __name__ == "__main__":
    main()
