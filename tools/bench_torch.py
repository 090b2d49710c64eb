#!/usr/bin/python3
"""PyTorch's side of `fer bench`: the same network, batch and thread count.

Builds the network of a fer YAML config with PyTorch's own layers (float32,
PyTorch's default initialization: only speed is measured), draws a synthetic
batch, and times in one process, like `fer bench`:

  full training     forward (training mode, dropout on), cross-entropy,
                    backward, optimizer step; every parameter trainable
  frozen backbone   the same with the layers before the config's first-phase
                    `trainable` layer frozen (requires_grad False: autograd
                    then never backpropagates through them)
  inference         eval() forward under torch.inference_mode()

One warm-up step, then --steps timed steps; the median is reported. It also
measures a 2048^3 matmul peak with the same threads and peak memory
(getrusage). The mode rows have the same columns as `fer bench`, so
tools/bench_compare can read both.

--bf16 runs every mode under torch.autocast("cpu", dtype=torch.bfloat16) with
channels-last tensors: PyTorch's mixed precision (float32 parameters and
optimizer, convolutions and linear layers in bfloat16 through oneDNN). The
matmul peak is then a bfloat16 one, so "of peak" is the fraction of that.

Run it with Debian's interpreter (python3-torch, python3-yaml):

  /usr/bin/python3 tools/bench_torch.py --config configs/fer2013_vgg16_nin.yaml \\
      --batch 64 --threads 2
"""

import argparse
import contextlib
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import apply_set, load_model_config  # noqa: E402  (the same YAML reading)

import yaml  # noqa: E402

PEAK_N, PEAK_REPS = 2048, 5
BENCH_LR = 1e-5  # as fer bench: keeps synthetic steps finite, costs the same


def max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Net(nn.Module):
    """The config's layers in order; conv/dense activations applied inline."""

    def __init__(self, model):
        super().__init__()
        self.specs = model["layers"]
        self.layers = nn.ModuleList()
        self.flops = []  # forward FLOPs per sample of each layer
        c, size = model["channels"], model["input_size"]
        for layer in self.specs:
            t = layer["type"]
            flops = 0.0
            if t == "conv2d":
                k, out = layer["kernel_size"], layer["filters"]
                pad = k // 2 if layer["padding"] == "same" else 0
                module = nn.Conv2d(c, out, k, padding=pad)
                size = size + 2 * pad - k + 1
                flops = 2.0 * size * size * out * k * k * c
                c = out
            elif t == "maxpool":
                module = nn.MaxPool2d(2, 2)
                size //= 2
            elif t == "batchnorm":
                module = nn.BatchNorm2d(c, eps=layer["epsilon"], momentum=1.0 - layer["momentum"])
            elif t == "relu":
                module = nn.ReLU()
            elif t == "dropout":
                module = nn.Dropout(layer["rate"])
            elif t == "gap":
                module = nn.AdaptiveAvgPool2d(1)
                size = 1
            elif t == "dense":
                units = layer["units"] or model["classes"]
                module = nn.Linear(c * size * size, units)
                flops = 2.0 * c * size * size * units
                c = units
            else:
                sys.exit(f"bench_torch: layer {layer['name']}: unknown type {t}")
            self.layers.append(module)
            self.flops.append(flops)

    def forward(self, x):
        for spec, module in zip(self.specs, self.layers):
            if spec["type"] == "dense":
                x = torch.flatten(x, 1)
            x = module(x)
            if spec["type"] in ("conv2d", "dense") and spec["activation"] == "relu":
                x = F.relu(x)
        return x

    def index(self, name):
        for i, spec in enumerate(self.specs):
            if spec["name"] == name:
                return i
        sys.exit(f"bench_torch: no layer named {name}")

    def step_flops(self, mode, first):
        """As fer_bench_step_flops: full = 3 x forward, frozen = what it computes."""
        total = sum(self.flops)
        if mode == "full training":
            return 3.0 * total
        if mode == "inference":
            return total
        return total + sum(f * (2.0 if i > first else 1.0) for i, f in enumerate(self.flops) if i >= first)


def run_config(path, sets):
    with open(path) as f:
        cfg = yaml.safe_load(f)
    for s in sets:
        apply_set(cfg, s)
    return cfg


def optimizer_for(cfg, params):
    """The first phase's optimizer (top level, then the phase's overrides)."""
    opt = dict(cfg.get("optimizer", {}))
    schedule = cfg.get("schedule") or [{}]
    opt.update(schedule[0].get("optimizer", {}))
    wd = opt.get("weight_decay", 0.0)
    if opt.get("name", "sgd") == "adam":
        return torch.optim.Adam(params, lr=BENCH_LR, betas=(opt.get("beta1", 0.9), opt.get("beta2", 0.999)),
                                eps=opt.get("epsilon", 1e-7), weight_decay=wd)
    return torch.optim.SGD(params, lr=BENCH_LR, momentum=opt.get("momentum", 0.0),
                           nesterov=bool(opt.get("nesterov", False)), weight_decay=wd)


def time_steps(step, steps):
    step()  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def precision_context(bf16):
    """What each step's forward pass runs under: bfloat16 autocast or nothing."""
    if bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def bench_train(net, cfg, x, labels, first, steps, bf16):
    for i, module in enumerate(net.layers):
        for p in module.parameters():
            p.requires_grad_(i >= first)
    net.train()
    opt = optimizer_for(cfg, [p for p in net.parameters() if p.requires_grad])

    def step():
        opt.zero_grad(set_to_none=True)
        with precision_context(bf16):
            loss = F.cross_entropy(net(x), labels)
        loss.backward()  # outside autocast, as PyTorch's recipe has it
        opt.step()

    return time_steps(step, steps)


def bench_infer(net, x, steps, bf16):
    net.eval()

    def step():
        with torch.inference_mode(), precision_context(bf16):
            net(x)

    return time_steps(step, steps)


def matmul_peak(bf16):
    dtype = torch.bfloat16 if bf16 else torch.float32
    a = torch.rand(PEAK_N, PEAK_N).to(dtype)
    b = torch.rand(PEAK_N, PEAK_N).to(dtype)
    best = min(time_steps(lambda: torch.mm(a, b), 1) for _ in range(PEAK_REPS))
    return 2.0 * PEAK_N ** 3 / best * 1e-9


def first_trainable(net, cfg):
    name = (cfg.get("schedule") or [{}])[0].get("trainable", "all")
    return -1 if name == "all" else net.index(name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/fer2013_vgg16_nin.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, as fer --set does")
    parser.add_argument("--batch", type=int, default=0, help="images per step (default: data.batch_size)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per mode (median)")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (default: the CPUs usable)")
    parser.add_argument("--channels-last", action="store_true",
                        help="NHWC memory format (fer's layout) instead of PyTorch's default NCHW")
    parser.add_argument("--bf16", action="store_true",
                        help='mixed precision: torch.autocast("cpu", dtype=torch.bfloat16), channels-last')
    args = parser.parse_args()
    if args.bf16:
        args.channels_last = True
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    rss_before = max_rss_mib()

    cfg = run_config(args.config, args.set)
    model = load_model_config(args.config, args.set)
    batch = args.batch or cfg.get("data", {}).get("batch_size", 64)
    if batch < 1 or args.steps < 1:
        sys.exit("bench_torch: --batch and --steps must be at least 1")
    torch.manual_seed(1)
    net = Net(model)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    s, c = model["input_size"], model["channels"]
    x = (torch.rand(batch, c, s, s) * 250.0 - 120.0).contiguous(memory_format=fmt)
    labels = torch.randint(0, model["classes"], (batch,))
    first = first_trainable(net, cfg)

    peak = matmul_peak(args.bf16)
    seconds = {"full training": bench_train(net, cfg, x, labels, 0, args.steps, args.bf16)}
    if first > 0:
        seconds["frozen backbone"] = bench_train(net, cfg, x, labels, first, args.steps, args.bf16)
    seconds["inference"] = bench_infer(net, x, args.steps, args.bf16)
    peak = max(peak, matmul_peak(args.bf16))
    rss_peak = max_rss_mib()

    print(f"bench_torch {args.config}: batch {batch}, median of {args.steps} timed steps after 1 warm-up, "
          f"synthetic input")
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{'channels_last' if args.channels_last else 'NCHW'}, oneDNN "
          f"{'on' if torch.backends.mkldnn.is_available() else 'off'}")
    print("precision: " + ('bf16 (torch.autocast("cpu", dtype=torch.bfloat16), float32 parameters)'
                           if args.bf16 else "fp32"))
    print(f"matmul peak: {peak:.1f} GFLOP/s ({'bfloat16' if args.bf16 else 'float32'} {PEAK_N}x{PEAK_N}, "
          f"best of {2 * PEAK_REPS}, before and after the model)\n")
    print(f"{'mode':<16} {'step ms':>10} {'images/s':>10} {'GFLOP/img':>10} {'GFLOP/s':>10} {'of peak':>8}")
    for mode in ("full training", "frozen backbone", "inference"):
        if mode not in seconds:
            print(f"{mode:<16} {'-':>10} (the config's first phase trains every layer)")
            continue
        sec = seconds[mode]
        flops = net.step_flops(mode, first)
        gflops = flops * batch / sec * 1e-9
        print(f"{mode:<16} {sec * 1e3:10.1f} {batch / sec:10.2f} {flops * 1e-9:10.2f} {gflops:10.1f} "
              f"{100.0 * gflops / peak:7.1f}%")
    if first > 0:
        print(f"frozen backbone: trainable from {model['layers'][first]['name']} (the config's first phase)")
    print(f"peak memory: {rss_peak:.0f} MiB RSS, {rss_before:.0f} MiB before the model: "
          f"{(rss_peak - rss_before) / batch:.1f} MiB per image above that, {rss_peak / batch:.1f} MiB "
          f"per image in all")


if __name__ == "__main__":
    main()
