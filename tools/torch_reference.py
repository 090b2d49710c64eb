#!/usr/bin/python3
"""Reference state for `fer check-reference`, computed by independent code.

Builds the network of a fer YAML config in PyTorch (its own layers: nn.Conv2d,
nn.MaxPool2d, nn.BatchNorm2d, nn.Linear; NCHW inside), draws random weights,
a random "preprocessed" input batch and random labels, runs ONE training-mode
forward pass in float64 (BatchNorm with batch statistics and the biased
variance, dropout off), the mean softmax cross-entropy and the backward pass,
and writes (all float32 unless noted):

  /model_weights                  Keras save_weights layout: layer_names (with
                                  input_1), per layer weight_names, datasets at
                                  <layer>/<layer>/kernel:0 ... (HWIO kernels,
                                  (in, out) dense kernels)
  /input                          (N, S, S, C) NHWC
  /labels                         int32 (N,)
  /expected/logits                (N, classes), before the softmax
  /expected/loss                  scalar, the mean cross-entropy
  /expected/gradients             same layout, trainable tensors only
                                  (kernel, bias, gamma, beta)
  /expected/moving_statistics     same layout, BatchNorm moving_mean and
                                  moving_variance after the pass (Keras update:
                                  m * moving + (1 - m) * batch, unbiased variance)
  /expected/decision_inputs/<layer>
                                  for every layer with a ReLU (conv2d or dense
                                  with activation relu, relu layers) the ReLU's
                                  input, and for every max pool the pool's
                                  input: (N, H, W, C) NHWC, or (N, C) after
                                  global pooling; from these `fer check-reference`
                                  counts the ReLU and max-pool decisions its
                                  forward pass takes differently (omitted with
                                  --no-decision-inputs; files written before
                                  it existed lack it too)

Run it with Debian's interpreter (python3-torch, python3-h5py, python3-numpy,
python3-yaml):

  /usr/bin/python3 tools/torch_reference.py --config configs/tiny.yaml \\
      --batch 3 --seed 1 --out ref.h5
  fer check-reference ref.h5 --config configs/tiny.yaml

--dtype float32 runs the pass in PyTorch's float32 instead (same weights and
input): what PyTorch's own float32 gives, for tools/compare_reference_states.py
(docs/reference-check.md).

--bf16-operands makes the reference for fer's bf16 products (precision: bf16):
still in float64, but every convolution and dense product rounds its operands
to bfloat16 (nearest even, from float32) as fer does: forward x and the kernel,
input gradient dy and the kernel, kernel gradient x and dy; biases and their
gradient (the unrounded dy summed) stay unrounded.
"""

import argparse
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

# The defaults of fer's config schema (src/io/config_schema.c), which follow
# Keras's layer defaults.
MODEL_DEFAULTS = {"input_size": 96, "channels": 3, "classes": 7}
LAYER_DEFAULTS = {"kernel_size": 3, "padding": "same", "activation": "linear", "units": 0,
                  "momentum": 0.99, "epsilon": 1e-3, "rate": 0.5}
LAYER_TYPES = ("conv2d", "maxpool", "batchnorm", "relu", "dropout", "gap", "dense")

# Scale of the random input: VGG "caffe" preprocessed pixels are 0..255 minus
# the ImageNet channel means.
INPUT_LOW, INPUT_HIGH = -120.0, 130.0


def apply_set(cfg, assignment):
    """`--set a.b.0.c=value` as fer applies it (value parsed as YAML)."""
    if "=" not in assignment:
        sys.exit(f"torch_reference: --set {assignment}: expected KEY=VALUE")
    key, value = assignment.split("=", 1)
    parts = key.split(".")
    node = cfg
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    last = parts[-1]
    parsed = yaml.safe_load(value)
    if isinstance(node, list):
        node[int(last)] = parsed
    else:
        node[last] = parsed


def load_model_config(path, sets):
    with open(path) as f:
        cfg = yaml.safe_load(f)
    for s in sets:
        apply_set(cfg, s)
    model = dict(MODEL_DEFAULTS)
    model.update({k: v for k, v in cfg.get("model", {}).items() if k != "layers"})
    layers = []
    for spec in cfg["model"]["layers"]:
        layer = dict(LAYER_DEFAULTS)
        layer.update(spec)
        if layer["type"] not in LAYER_TYPES:
            sys.exit(f"torch_reference: layer {layer['name']}: unknown type {layer['type']}")
        layers.append(layer)
    model["layers"] = layers
    return model


def bf16(t):
    """t rounded to bfloat16 (nearest even, from float32), in t's dtype."""
    return t.to(torch.float32).to(torch.bfloat16).to(t.dtype)


class Bf16Conv(torch.autograd.Function):
    """A convolution whose products take bf16-rounded operands."""

    @staticmethod
    def forward(ctx, x, w, b, pad):
        xr, wr = bf16(x), bf16(w)
        ctx.save_for_backward(xr, wr)
        ctx.pad = pad
        return F.conv2d(xr, wr, b, padding=pad)

    @staticmethod
    def backward(ctx, dy):
        xr, wr = ctx.saved_tensors
        dyr = bf16(dy)
        dx = torch.nn.grad.conv2d_input(xr.shape, wr, dyr, padding=ctx.pad)
        dw = torch.nn.grad.conv2d_weight(xr, wr.shape, dyr, padding=ctx.pad)
        return dx, dw, dy.sum(dim=(0, 2, 3)), None


class Bf16Linear(torch.autograd.Function):
    """A dense layer whose products take bf16-rounded operands."""

    @staticmethod
    def forward(ctx, x, w, b):
        xr, wr = bf16(x), bf16(w)
        ctx.save_for_backward(xr, wr)
        return F.linear(xr, wr, b)

    @staticmethod
    def backward(ctx, dy):
        xr, wr = ctx.saved_tensors
        dyr = bf16(dy)
        return dyr @ wr, dyr.t() @ xr, dy.sum(dim=0)


def product(module, x, bf16_operands):
    """module(x), or its bf16-operand form."""
    if not bf16_operands:
        return module(x)
    if isinstance(module, nn.Conv2d):
        return Bf16Conv.apply(x, module.weight, module.bias, module.padding)
    return Bf16Linear.apply(x, module.weight, module.bias)


class Reference:
    """The network as a list of PyTorch modules with Keras-layout weights."""

    def __init__(self, model, rng, dtype=torch.float64, bf16_operands=False):
        self.model = model
        self.bf16_operands = bf16_operands
        self.steps = []      # (layer spec, module or None, flat_input)
        self.keras = {}      # layer name -> [(weight name, float32 array)]
        c, size, flat = model["channels"], model["input_size"], False
        for layer in model["layers"]:
            t, name = layer["type"], layer["name"]
            module = None
            if t == "conv2d":
                if flat:
                    sys.exit(f"torch_reference: {name}: conv2d after a flat layer")
                k, out = layer["kernel_size"], layer["filters"]
                pad = k // 2 if layer["padding"] == "same" else 0
                module = nn.Conv2d(c, out, k, padding=pad, bias=True).to(dtype)
                kernel = glorot(rng, (k, k, c, out), k * k * c, k * k * out)
                bias = rng.uniform(-0.2, 0.2, out).astype(np.float32)
                with torch.no_grad():
                    module.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).astype(np.float64)))
                    module.bias.copy_(torch.from_numpy(bias.astype(np.float64)))
                self.keras[name] = [("kernel:0", kernel), ("bias:0", bias)]
                size = size + 2 * pad - k + 1
                c = out
            elif t == "maxpool":
                module = nn.MaxPool2d(2, 2)
                size //= 2
            elif t == "batchnorm":
                bn = nn.BatchNorm1d if flat else nn.BatchNorm2d
                # PyTorch's momentum weighs the new batch: 1 - Keras's.
                module = bn(c, eps=layer["epsilon"], momentum=1.0 - layer["momentum"]).to(dtype)
                gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
                beta = rng.uniform(-0.5, 0.5, c).astype(np.float32)
                mean = rng.normal(0.0, 0.5, c).astype(np.float32)
                var = rng.uniform(0.5, 2.0, c).astype(np.float32)
                with torch.no_grad():
                    module.weight.copy_(torch.from_numpy(gamma.astype(np.float64)))
                    module.bias.copy_(torch.from_numpy(beta.astype(np.float64)))
                    module.running_mean.copy_(torch.from_numpy(mean.astype(np.float64)))
                    module.running_var.copy_(torch.from_numpy(var.astype(np.float64)))
                module.train()
                self.keras[name] = [("gamma:0", gamma), ("beta:0", beta),
                                    ("moving_mean:0", mean), ("moving_variance:0", var)]
            elif t == "dense":
                if not flat and size != 1:
                    sys.exit(f"torch_reference: {name}: dense needs a flat input (gap before it)")
                units = layer["units"] or model["classes"]
                module = nn.Linear(c, units).to(dtype)
                kernel = glorot(rng, (c, units), c, units)
                bias = rng.uniform(-0.2, 0.2, units).astype(np.float32)
                with torch.no_grad():
                    module.weight.copy_(torch.from_numpy(kernel.T.astype(np.float64)))
                    module.bias.copy_(torch.from_numpy(bias.astype(np.float64)))
                self.keras[name] = [("kernel:0", kernel), ("bias:0", bias)]
                c, size = units, 1
            self.steps.append((layer, module, flat))
            if t in ("gap", "dense"):
                flat = True
        if c != model["classes"]:
            sys.exit(f"torch_reference: the last layer has {c} outputs, model.classes is {model['classes']}")

    def forward(self, x_nhwc, margins=None, decision_inputs=None):
        """Training-mode forward, dropout off. x: (N, S, S, C) float64.
        margins (a list) gets (layer, smallest decision margin) for every
        ReLU and max-pool layer; decision_inputs (a dict) gets layer name ->
        ("relu" or "maxpool", the input of its ReLU or max pool, float32
        NHWC or N x C)."""
        x = x_nhwc.permute(0, 3, 1, 2)

        def record(z, name, kind):
            if decision_inputs is not None:
                z = z.detach()
                if z.dim() == 4:
                    z = z.permute(0, 2, 3, 1)
                decision_inputs[name] = (kind, z.numpy().astype(np.float32))

        def relu(z, name):
            if margins is not None:
                margins.append((name, relu_margin(z)))
            record(z, name, "relu")
            return F.relu(z)

        for layer, module, flat in self.steps:
            t, name = layer["type"], layer["name"]
            if t == "conv2d":
                x = product(module, x, self.bf16_operands)
                if layer["activation"] == "relu":
                    x = relu(x, name)
            elif t == "maxpool":
                if margins is not None:
                    margins.append((name, pool_margin(x)))
                record(x, name, "maxpool")
                x = module(x)
            elif t == "batchnorm":
                x = module(x)
            elif t == "relu":
                x = relu(x, name)
            elif t == "dropout":
                pass
            elif t == "gap":
                x = x.mean(dim=(2, 3))
            elif t == "dense":
                if x.dim() == 4:
                    x = x.reshape(x.shape[0], -1)
                x = product(module, x, self.bf16_operands)
                if layer["activation"] == "relu":
                    x = relu(x, name)
        return x

    def gradients(self):
        """Layer name -> [(weight name, float32 array)] of d loss / d weight."""
        grads = {}
        for layer, module, _ in self.steps:
            t = layer["type"]
            if t == "conv2d":
                grads[layer["name"]] = [("kernel:0", module.weight.grad.numpy().transpose(2, 3, 1, 0)),
                                        ("bias:0", module.bias.grad.numpy())]
            elif t == "dense":
                grads[layer["name"]] = [("kernel:0", module.weight.grad.numpy().T),
                                        ("bias:0", module.bias.grad.numpy())]
            elif t == "batchnorm":
                grads[layer["name"]] = [("gamma:0", module.weight.grad.numpy()),
                                        ("beta:0", module.bias.grad.numpy())]
        return grads

    def moving_statistics(self):
        stats = {}
        for layer, module, _ in self.steps:
            if layer["type"] == "batchnorm":
                stats[layer["name"]] = [("moving_mean:0", module.running_mean.numpy()),
                                        ("moving_variance:0", module.running_var.numpy())]
        return stats


# A ReLU input or a max-pool runner-up closer to its threshold than float32
# rounding routes the gradient differently in float32 than in this float64
# reference: a discontinuity, not an error. Margins are measured in units of
# the layer's RMS so that they compare with float32's relative precision.
def relu_margin(z):
    z = z.detach()
    rms = z.pow(2).mean().sqrt()
    return (z.abs().min() / rms).item() if rms > 0 else 0.0


def pool_margin(x):
    x = x.detach()
    n, c, h, w = x.shape
    h, w = h // 2, w // 2
    windows = x[:, :, :2 * h, :2 * w].reshape(n, c, h, 2, w, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w, 4)
    top = windows.topk(2, dim=-1).values
    # Windows of exact zeros (after a ReLU) tie in any precision, and their
    # gradient dies in that ReLU whichever element takes it.
    live = top[..., 0] != 0
    rms = x.pow(2).mean().sqrt()
    if not live.any() or rms == 0:
        return float("inf")
    return ((top[..., 0] - top[..., 1])[live].min() / rms).item()


def glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def write_keras_layout(group, layer_names, tensors):
    """Keras save_weights layout, as Keras 2.2 writes it with h5py."""
    group.attrs["layer_names"] = np.array([b"input_1"] + [n.encode() for n in layer_names])
    group.attrs["keras_version"] = np.bytes_(b"2.2.4")
    group.attrs["backend"] = np.bytes_(b"tensorflow")
    for name in ["input_1"] + list(layer_names):
        g = group.create_group(name)
        weights = tensors.get(name, [])
        g.attrs["weight_names"] = np.array([f"{name}/{w}".encode() for w, _ in weights]) \
            if weights else np.array([], dtype="S1")
        for w, value in weights:
            g.create_dataset(f"{name}/{w}", data=np.ascontiguousarray(value, dtype=np.float32))


MAX_DRAWS = 200


def write_reference(config, sets, batch, seed, out, min_margin=0.0, decision_inputs=True, dtype="float64",
                    bf16_operands=False):
    """Builds, runs and writes one reference-state file; returns a summary.
    With min_margin > 0 the input is redrawn until every ReLU and max-pool
    decision is at least min_margin (times its layer's RMS) from its
    threshold, so that float32 cannot take another branch. decision_inputs
    False leaves out /expected/decision_inputs (large: about as many values
    as the network's activations). dtype "float32" computes the state in
    PyTorch's float32 instead (same weights and input): not a reference for
    fer, but what PyTorch's own float32 gives, to compare with one."""
    model = load_model_config(config, sets)
    s, c, n = model["input_size"], model["channels"], batch
    for draw in range(MAX_DRAWS if min_margin > 0 else 1):
        # The same weights every draw; a fresh net also resets BatchNorm's
        # moving statistics, which every training-mode pass updates.
        net = Reference(model, np.random.RandomState(seed), getattr(torch, dtype), bf16_operands)
        rng = np.random.RandomState([seed, draw])
        x = rng.uniform(INPUT_LOW, INPUT_HIGH, (n, s, s, c)).astype(np.float32)
        labels = rng.randint(0, model["classes"], n).astype(np.int32)
        margins, inputs = [], {} if decision_inputs else None
        logits = net.forward(torch.from_numpy(x).to(getattr(torch, dtype)), margins, inputs)
        closest, smallest = min(margins, key=lambda m: m[1]) if margins else ("", float("inf"))
        if smallest >= min_margin:
            break
    else:
        sys.exit(f"torch_reference: no input in {MAX_DRAWS} draws keeps every ReLU / max-pool decision "
                 f"{min_margin:g} from its threshold (smallest {smallest:.2e} at {closest}); "
                 "use a smaller --min-margin, batch or network")
    loss = F.cross_entropy(logits, torch.from_numpy(labels.astype(np.int64)))
    loss.backward()

    names = [layer["name"] for layer in model["layers"]]
    with h5py.File(out, "w") as f:
        f.attrs["generator"] = np.bytes_(b"tools/torch_reference.py")
        f.attrs["config"] = np.bytes_(config.encode())
        f.attrs["seed"] = seed
        f.attrs["torch_version"] = np.bytes_(torch.__version__.encode())
        f.attrs["dtype"] = np.bytes_(dtype.encode())
        f.attrs["bf16_operands"] = int(bf16_operands)
        f.attrs["min_decision_margin"] = smallest
        f.attrs["min_decision_margin_layer"] = np.bytes_(closest.encode())
        write_keras_layout(f.create_group("model_weights"), names, net.keras)
        f.create_dataset("input", data=x)
        f.create_dataset("labels", data=labels)
        e = f.create_group("expected")
        e.create_dataset("logits", data=logits.detach().numpy().astype(np.float32))
        e.create_dataset("loss", data=np.float32(loss.item()))
        write_keras_layout(e.create_group("gradients"), names, net.gradients())
        write_keras_layout(e.create_group("moving_statistics"), names, net.moving_statistics())
        if decision_inputs:
            d = e.create_group("decision_inputs")
            for name, (kind, value) in inputs.items():
                d.create_dataset(name, data=value).attrs["decision"] = np.bytes_(kind.encode())
    return (f"{out}: batch {n} of {s}x{s}x{c}, loss {loss.item():.6f}, {len(net.keras)} layers with weights, "
            f"smallest decision margin {smallest:.1e} ({closest}, draw {draw + 1})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/fer2013_vgg16_nin.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, as fer --set does")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--min-margin", type=float, default=0.0, metavar="TAU",
                        help="redraw the input until every ReLU and max-pool decision is at least TAU "
                             "times its layer's RMS from its threshold (e.g. 2e-5; feasible for small "
                             "networks only)")
    parser.add_argument("--no-decision-inputs", action="store_true",
                        help="leave out /expected/decision_inputs (the ReLU and max-pool inputs from which "
                             "fer check-reference counts differing decisions; as large as the activations)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="precision of the PyTorch pass (default float64, the reference; float32 shows "
                             "what PyTorch's own float32 gives, e.g. for tools/compare_reference_states.py)")
    parser.add_argument("--bf16-operands", action="store_true",
                        help="round every convolution and dense product's operands to bfloat16, as fer's "
                             "precision: bf16 does (the reference for it)")
    args = parser.parse_args()
    if args.batch < 1:
        sys.exit("torch_reference: --batch must be at least 1")
    print(write_reference(args.config, args.set, args.batch, args.seed, args.out, args.min_margin,
                          not args.no_decision_inputs, args.dtype, args.bf16_operands))


if __name__ == "__main__":
    main()
