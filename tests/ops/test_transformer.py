"""Transformer blocks equal nn.TransformerEncoderLayer / nn.TransformerDecoderLayer given the
same weights (pre- and post-norm, with and without biases, causal and padding masks), and the
blocks with the sequence ops add up to the reference models' exact parameter counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_op_onnx import _export_case
from torch import nn

from dlspec.backends.torch_module import instantiate
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry

D, HEADS, FFN = 8, 2, 12
X = TensorType(("N", "seq", D))


def build(name: str, types: tuple[TensorType, ...], **config) -> nn.Module:
    return instantiate(op_registry()[name](**config).build(*types)).eval()


def _causal(length: int) -> torch.Tensor:
    """torch's attention mask for causal attention: True where a query may not look."""
    return torch.ones(length, length, dtype=torch.bool).triu(1)


def _activation(name: str):
    return {"relu": "relu", "gelu": "gelu", "silu": F.silu,
            "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}[name]


@pytest.mark.parametrize(("norm", "activation", "bias"), [
    ("post", "relu", True), ("pre", "gelu", True), ("pre", "gelu_tanh", False),
    ("post", "silu", False)])
def test_encoder_block_equals_torchs_layer(norm, activation, bias):
    module = build("transformer_encoder_block", (X, TensorType(("N", "seq"), "int64")),
                   heads=HEADS, ffn=FFN, activation=activation, norm=norm, bias=bias,
                   eps=1e-6, causal=True)
    reference = nn.TransformerEncoderLayer(
        D, HEADS, FFN, dropout=0.1, activation=_activation(activation), layer_norm_eps=1e-6,
        batch_first=True, norm_first=norm == "pre", bias=bias).eval()
    assert list(module.state_dict()) == list(reference.state_dict())  # same names, same order
    reference.load_state_dict(module.state_dict())
    x = torch.randn(2, 5, D)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    expected = reference(x, src_mask=_causal(5),
                         src_key_padding_mask=mask == 0, is_causal=True)
    torch.testing.assert_close(module(x, mask)[mask.bool()], expected[mask.bool()])


@pytest.mark.parametrize(("norm", "bias"), [("post", True), ("pre", False)])
def test_decoder_block_equals_torchs_layer(norm, bias):
    memory_mask = TensorType(("N", "L"), "int64")
    module = build("transformer_decoder_block", (X, TensorType(("N", "L", D)), memory_mask),
                   heads=HEADS, ffn=FFN, norm=norm, bias=bias)
    reference = nn.TransformerDecoderLayer(D, HEADS, FFN, batch_first=True,
                                           norm_first=norm == "pre", bias=bias).eval()
    assert list(module.state_dict()) == list(reference.state_dict())
    reference.load_state_dict(module.state_dict())
    x, memory = torch.randn(2, 5, D), torch.randn(2, 6, D)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    expected = reference(x, memory, tgt_mask=_causal(5),
                         tgt_is_causal=True, memory_key_padding_mask=mask == 0)
    torch.testing.assert_close(module(x, memory, mask), expected)


def test_dropout_acts_in_training_only():
    module = build("transformer_encoder_block", (X,), heads=HEADS, dropout=0.5)
    x = torch.randn(2, 5, D)
    assert not torch.allclose(module.train()(x), module(x))
    torch.testing.assert_close(module.eval()(x), module(x))


def _count(name: str, *types: TensorType, **config) -> int:
    return op_registry()[name](**config).param_count(*types)


def _stack(d: int, **config) -> int:
    """12 blocks of width d, 12 heads and a 4d feed-forward layer."""
    x = TensorType(("N", "seq", d))
    return 12 * _count("transformer_encoder_block", x, heads=12, ffn=4 * d, **config)


def test_reference_parameter_counts():
    ids = TensorType(("N", "seq"), "int64")
    x = TensorType(("N", "seq", 768))
    gpt2 = (_count("embedding", ids, num_embeddings=50257, embedding_dim=768)
            + _count("learned_position", x, max_len=1024)
            + _stack(768, activation="gelu_tanh", norm="pre", causal=True)
            + _count("layernorm", x))  # the LM head is tied to the token embedding
    assert gpt2 == 124_439_808  # HF GPT2LMHeadModel
    bert = (_count("embedding", ids, num_embeddings=30522, embedding_dim=768)
            + _count("learned_position", x, max_len=512)
            + _count("token_type_embedding", x, types=2) + _count("layernorm", x)
            + _stack(768, activation="gelu", eps=1e-12)
            + _count("linear", TensorType(("N", 768)), out_features=768))  # pooler
    assert bert == 109_482_240  # HF BertModel
    tokens = TensorType(("N", 197, 768))
    vit_sequence_part = (_count("learned_position", tokens, max_len=197)
                         + _stack(768, activation="gelu", norm="pre", eps=1e-6, dropout=0.0)
                         + _count("layernorm", tokens))
    patches, class_token, head = 768 * 3 * 16 * 16 + 768, 768, 768 * 1000 + 1000
    assert vit_sequence_part + patches + class_token + head == 86_567_656  # vit_b_16


def test_decoder_block_count_equals_torchs_at_transformer_base_size():
    x = TensorType(("N", "seq", 512))
    reference = nn.TransformerDecoderLayer(512, 8, 2048, batch_first=True)
    assert _count("transformer_decoder_block", x, x, heads=8, ffn=2048) == \
        sum(p.numel() for p in reference.parameters())


@pytest.mark.filterwarnings("ignore")
def test_post_norm_block_with_a_causal_window_exports_to_onnx(tmp_path):
    report = _export_case("transformer_encoder_block", 2, tmp_path)  # ONNX Runtime agrees
    assert report.input_dims["input0"][:2] == ("batch", "seq")
