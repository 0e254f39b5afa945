"""Teach torch's FlopCounterMode the fused CPU kernels it has no formula for.

The op table checks each op's `macs` against the counter, which counts 0 for two kernels that
torch runs on CPU without registering their cost:
- `aten.mkldnn_rnn_layer`, nn.LSTM on CPU (one call per layer and direction): per step the
  input projection (gates*H x F) and the hidden projection (gates*H x H) on every sequence;
- `aten._scaled_dot_product_flash_attention_for_cpu`, scaled_dot_product_attention on CPU
  without an explicit mask: counted like its GPU siblings, q k^T and weights v.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import flop_registry, register_flop_formula, sdpa_flop_count

aten = torch.ops.aten


def _mkldnn_rnn_flops(input_shape, w_ih_shape, w_hh_shape, *args, out_shape=None,
                      **kwargs) -> int:
    steps_times_batch = input_shape[0] * input_shape[1]
    gates_hidden, features = w_ih_shape
    return 2 * steps_times_batch * gates_hidden * (features + w_hh_shape[1])


def _flash_cpu_flops(query_shape, key_shape, value_shape, *args, out_shape=None,
                     **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


for _op, _formula in ((aten.mkldnn_rnn_layer, _mkldnn_rnn_flops),
                      (aten._scaled_dot_product_flash_attention_for_cpu, _flash_cpu_flops)):
    if _op not in flop_registry:
        register_flop_formula(_op)(_formula)
