"""Text generation speed of gpt-chars with and without the KV cache, measured in the same run.

The model is specs/gpt-chars.yaml with random weights (seeded; speed does not depend on the
weights) or a trained run's (--run). Each case generates from a one-character prompt,
greedy (temperature 0, so both paths make the same tokens, which is checked), on one thread,
best of --repeat. Two lengths: up to the context (every step served by the cache), and four
times past it, where the model sees only the last `context` tokens: each step there runs
the whole window again, cache or not (dlspec/generate/text.py), so the cache helps only on
the first `context` tokens.

Run: python benchmarks/generation_speed.py [--run RUN_DIR] [--set context=256 ...]
     [--repeat 3]

Measured (torch 2.13 CPU, one thread on 2 shared cores busy with other jobs, so +-30%
between runs; best of 5 or 7; the shipped spec: three blocks with rotary positions):

    gpt-chars (context 64), random weights     63 new tokens: 345-411 vs 280-324 tok/s (1.1-1.5x)
                                               256 new tokens: 321-353 vs 267-362 tok/s (1.0-1.2x)
    trained (a run of the shipped spec)         63 new tokens: 512 vs 433 tok/s (1.18x)
    --set context=256, random weights          255 new tokens: 269-462 vs 170-284 tok/s (1.3-2.0x)
                                              1024 new tokens: 158-191 vs 126-212 tok/s (0.9-1.3x)

(The spec before, two blocks with learned positions, 123k parameters: 1.69x at 63 tokens,
2.96x at 255 with context=256, measured earlier; 1.68x at 255 in the busy runs above.)
The model is tiny (156k parameters): a step is mostly per-layer Python and kernel-launch
overhead, which caching does not remove, so the gain grows with the context.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SPEC = Path(__file__).resolve().parents[1] / "specs" / "gpt-chars.yaml"


def network(run: Path | None, overrides: list[str]):
    from dlspec import api
    from dlspec.generate.network import TorchNetwork
    from dlspec.generate.text import causal_lm_info

    checked = api.check_spec(SPEC, overrides)
    module = api.compile_module(checked, seed=0)
    if run is not None:
        from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint
        from dlspec.train.run_folder.run_dir import RunFiles

        apply_checkpoint(module, load_checkpoint(RunFiles(run).best))
    graph = checked.graph
    inputs = {n: (graph.node(n).type.sample_shape, graph.node(n).type.dtype)
              for n in graph.inputs}
    return TorchNetwork(module, inputs, tuple(graph.outputs), graph=graph), \
        causal_lm_info(checked)


def tokens_per_second(net, info, tokens: int, cache: bool, repeat: int):
    from dlspec.generate.text import encode_prompt, generate_tokens

    prompt = encode_prompt(info, "T")
    best, ids = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        ids = generate_tokens(net, info, prompt, tokens, np.random.default_rng(0),
                              temperature=0, cache=cache)
        best = min(best, time.perf_counter() - start)
    return tokens / best, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained gpt-chars run (default: random "
                        "weights)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="a spec override, e.g. context=256")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    net, info = network(args.run, args.overrides)
    context = info["context"]
    print(f"gpt-chars{' ' + ' '.join(args.overrides) if args.overrides else ''}: context "
          f"{context}, {sum(p.numel() for p in net.module.parameters()):,} parameters, "
          f"{'run ' + str(args.run) if args.run else 'random weights'}, 1 thread")
    print(f"{'new tokens':>10} {'cache tok/s':>12} {'recompute tok/s':>16} {'ratio':>6}")
    for tokens in (context - 1, 4 * context):
        cached, with_cache = tokens_per_second(net, info, tokens, True, args.repeat)
        full, without = tokens_per_second(net, info, tokens, False, args.repeat)
        assert with_cache == without, "the cache changed the tokens"
        print(f"{tokens:>10} {cached:>12.0f} {full:>16.0f} {cached / full:>6.2f}")


if __name__ == "__main__":
    main()
