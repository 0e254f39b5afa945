"""What keeps a spec from training with the masked_lm objective, found by `dlspec validate`
on its shape-checked model (torch-free): the token-id input, the data's vocabulary, the
embedding that must take the mask id and the output that must give vocab logits per
position. Each problem is located at its key, or at the layer it is about."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dlspec.errors import DataError, Diagnostic, suggest

if TYPE_CHECKING:
    from dlspec.train.objectives.masked_lm import MaskedLMConfig

Problems = list[tuple[tuple, Diagnostic]]
TOKEN_HINT = "declare it as token ids, e.g. `{shape: [seq], dtype: int64}`"


def masked_lm_problems(config: MaskedLMConfig, checked: Any) -> Problems:
    """Every problem found, each with the spec key it is at."""
    from dlspec.train.objectives.masked_lm import model_of

    spec = checked.spec
    name = model_of(config, spec)
    section = next(s for s in spec.sections() if s.name == name)
    graph = checked.graphs[name]
    problems: Problems = []
    token_input = _token_input(config, section, problems)
    output = _logits_output(config, graph, section, problems)
    vocab = _vocabulary(checked, graph, token_input, problems)
    if token_input is None or vocab is None:
        return problems
    mask_id = vocab if config.mask_id is None else config.mask_id
    problems += _embedding_problems(graph, token_input, mask_id, vocab)
    if output is not None:
        problems += _output_problems(graph, token_input, output, vocab)
    return problems


def _token_input(config: MaskedLMConfig, section: Any, problems: Problems) -> str | None:
    """The input holding the token ids (None, with a problem, when there is none fit)."""
    inputs = list(section.inputs)
    if config.input is not None and config.input not in inputs:
        problems.append((("objective", "input"), Diagnostic(
            "DLS402", f"objective.input: '{config.input}' is not an input of model "
            f"'{section.name}': {suggest(config.input, inputs)}")))
        return None
    if not inputs:
        return None
    name = config.input or inputs[0]
    declared = section.inputs[name]
    if declared.dtype != "int64" or len(declared.shape) != 1:
        problems.append((section.at("inputs", name), Diagnostic(
            "DLS402", f"masked_lm masks the token ids of input '{name}', but it is "
            f"{declared.dtype} of shape {list(declared.shape)}, not int64 ids of shape (T,)",
            hint=TOKEN_HINT)))
        return None
    return name


def _logits_output(config: MaskedLMConfig, graph: Any, section: Any,
                   problems: Problems) -> str | None:
    """The output that gives the logits (None, with a problem, when it is not known)."""
    outputs = list(graph.outputs)
    if config.output is not None:
        if config.output in outputs:
            return config.output
        problems.append((("objective", "output"), Diagnostic(
            "DLS305", f"objective.output: '{config.output}' is not an output of model "
            f"'{section.name}': {suggest(config.output, outputs)}",
            hint="list the layer under the model's `outputs:`")))
        return None
    if len(outputs) > 1:
        problems.append((("objective", "op"), Diagnostic(
            "DLS402", f"model '{section.name}' has {len(outputs)} outputs "
            f"({', '.join(outputs)}), and nothing says which gives the masked_lm logits",
            hint=f"name it: `objective: {{op: masked_lm, output: {outputs[-1]}}}`")))
        return None
    return outputs[0] if outputs else None


def _vocabulary(checked: Any, graph: Any, token_input: str | None,
                problems: Problems) -> int | None:
    """The data's vocabulary size: ids 0..vocab-1 (None without data, or when the data
    cannot be described: check_data reports that)."""
    from dlspec.data.describe import describe_data

    spec = checked.spec
    if spec.data is None:
        return None
    try:
        info = describe_data(spec.data, checked.loaded.base_dir, graph.inputs)
    except DataError:
        return None
    fields = info.fields
    field = fields.get(token_input) or (next(iter(fields.values())) if len(fields) == 1
                                        else None)
    vocab = field.vocab_size if field is not None and field.dtype == "int64" else 0
    if vocab <= 0:
        problems.append((("data", "dataset"), Diagnostic(
            "DLS402", f"masked_lm masks token sequences, but the data '{spec.data.dataset}' "
            "has no token ids (a vocabulary) to feed the model with",
            hint="train it on token sequences, e.g. `data: {dataset: chars}`")))
        return None
    return vocab


def _embedding_problems(graph: Any, token_input: str, mask_id: int, vocab: int) -> Problems:
    """An embedding of the token ids with too few rows for the mask id."""
    problems: Problems = []
    for node in graph.layers():
        rows = getattr(node.op, "num_embeddings", None)
        if token_input not in node.inputs or rows is None or rows > mask_id:
            continue
        default = " (by default the vocabulary size, one past the last id)" \
            if mask_id == vocab else ""
        problems.append(((), Diagnostic(
            "DLS402", f"embedding '{node.name}' has {rows} rows (ids 0..{rows - 1}), but "
            f"masked_lm feeds it the mask id {mask_id}{default}", node.span,
            hint=f"give it num_embeddings: {mask_id + 1} (the vocabulary, {vocab}, and the "
                 "mask token)")))
    return problems


def _output_problems(graph: Any, token_input: str, output: str, vocab: int) -> Problems:
    """An output that is not (T, vocab): one score per vocabulary id at every position."""
    shape = graph.node(output).type.sample_shape
    tokens = graph.node(token_input).type.sample_shape
    if len(shape) == len(tokens) + 1 and shape[-1] == vocab:
        return []
    node = graph.node(output)
    last = shape[-1] if shape else None
    hint = (f"end the model with a linear layer of out_features: {vocab}" if last != vocab
            else "keep the sequence dim: a linear layer on (N, T, D) gives (N, T, vocab)")
    return [((), Diagnostic(
        "DLS402", f"masked_lm reads output '{output}' as logits over the vocabulary at "
        f"every position, (N, T, {vocab}), but it is {node.type}", node.span, hint=hint))]
