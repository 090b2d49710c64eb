#!/usr/bin/python3
"""Writes several reference-state files in one interpreter (importing torch
once): argv[1] is the tools/ directory; stdin has one case per line,
`OUT CONFIG BATCH SEED MIN_MARGIN [KEY=VALUE ...] [--bf16-operands]` (see
tools/torch_reference.py for --min-margin, --set and --bf16-operands)."""
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, sys.argv[1])
import torch_reference  # noqa: E402

for line in sys.stdin:
    fields = line.split()
    if not fields:
        continue
    out, config, batch, seed, margin = fields[:5]
    sets = [f for f in fields[5:] if f != "--bf16-operands"]
    print(torch_reference.write_reference(config, sets, int(batch), int(seed), out, float(margin),
                                          bf16_operands="--bf16-operands" in fields[5:]),
          flush=True)
