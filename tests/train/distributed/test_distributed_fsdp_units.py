"""Which layers fsdp shards as units of their own (no process group needed): each layer
with parameters, each instance of a repeated block, and never a layer tied to another (the
root keeps a shared weight whole for both of its uses)."""

from __future__ import annotations

import torch

from dlspec.train.distributed.fsdp import shard_units


class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.act = torch.nn.ReLU()  # no parameter: nothing to shard
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(3)])
        self.head = torch.nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight  # tie: head to embed


def test_each_layer_and_block_instance_is_a_unit_but_tied_layers_stay_with_the_root():
    model = Tied()
    units = shard_units(model)
    assert units == list(model.blocks)
    untied = Tied()
    untied.head.weight = torch.nn.Parameter(torch.zeros(10, 4))
    assert shard_units(untied) == [untied.embed, *untied.blocks, untied.head]


def test_the_layers_of_a_repeated_blocks_instances_are_units_not_their_holder():
    # a compiled spec holds a repeated block's instances in modules without a forward
    # (encoder.0.layer): the graph calls the layers, so a unit on the holder would never
    # gather its parameters (the forward met DTensors: "mixed torch.Tensor and DTensor")
    model = torch.nn.Module()
    model.embed = torch.nn.Embedding(10, 4)
    model.encoder = torch.nn.Module()
    for i in range(2):
        instance = torch.nn.Module()
        instance.layer = torch.nn.Linear(4, 4)
        instance.norm = torch.nn.LayerNorm(4)
        model.encoder.add_module(str(i), instance)
    first, second = model.encoder.children()
    assert shard_units(model) == [model.embed, first.layer, first.norm, second.layer,
                                  second.norm]
