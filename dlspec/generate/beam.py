"""Greedy and beam-search decoding of token sequences over a Stepper (stepper.py), for
sequence-to-sequence models (seq2seq.py).

Both start every row from BOS and stop a row at EOS (left out of the result) or after
`max_len` tokens. Greedy takes the highest-scoring token at every step, all rows at once.
Beam search keeps the `beam` best partial outputs of each source by the sum of their
tokens' log-probabilities; an output that ends with EOS among the `beam` best candidates of
a step is finished (the `beam` best are kept), and a source is done once it has `beam`
finished outputs and no live one, scored at its present length, ranks above the worst of
them (Hugging Face's rule), or when none can go on. Finished outputs are ranked by log-probability / length ** length_penalty, the
length counting EOS (Wu et al., 2016; 1.0, the default, ranks by the mean log-probability
per token, so a short output is not preferred for being short; 0 ranks by the plain sum).
The rows of all sources and beams run together as one batch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dlspec.generate.stepper import Stepper


def log_softmax(scores: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities over the allowed tokens (-inf for the others)."""
    scores = np.where(allowed, np.asarray(scores, np.float64), -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    return scores - top - np.log(np.exp(scores - top).sum(axis=-1, keepdims=True))


def greedy(stepper: Stepper, static: Mapping[str, np.ndarray], rows: int, bos: int,
           eos: int, pad: int, allowed: np.ndarray, max_len: int) -> list[list[int]]:
    """Each row's highest-scoring tokens until EOS (finished rows are fed padding)."""
    outputs: list[list[int]] = [[] for _ in range(rows)]
    done = np.zeros(rows, bool)
    scores = stepper.start(static, np.full((rows, 1), bos, np.int64))
    for step in range(max_len + 1):
        tokens = np.argmax(np.where(allowed, scores, -np.inf), axis=-1)
        for row in np.flatnonzero(~done):
            if tokens[row] == eos or step == max_len:
                done[row] = True
            else:
                outputs[row].append(int(tokens[row]))
        if done.all():
            break
        scores = stepper.feed(np.where(done, pad, tokens))
    return outputs


class _Source:
    """One source's beams: their tokens and scores, and its finished outputs."""

    def __init__(self, beam: int):
        self.tokens: list[list[int]] = [[] for _ in range(beam)]
        self.scores = np.full(beam, -np.inf)
        self.scores[0] = 0.0  # one live beam to start from
        self.finished: list[tuple[float, list[int]]] = []
        self.done = False

    def best(self) -> list[int]:
        return max(self.finished, key=lambda f: f[0])[1] if self.finished else []


def beam_search(stepper: Stepper, static: Mapping[str, np.ndarray], rows: int, bos: int,
                eos: int, pad: int, allowed: np.ndarray, max_len: int, beam: int,
                length_penalty: float = 1.0) -> list[list[int]]:
    """The best output of each of `rows` sources (see the module's docstring)."""
    sources = [_Source(beam) for _ in range(rows)]
    scores = stepper.start({k: np.repeat(v, beam, axis=0) for k, v in static.items()},
                           np.full((rows * beam, 1), bos, np.int64))
    for step in range(max_len + 1):
        logp = log_softmax(scores, allowed)
        classes = logp.shape[-1]
        parents = np.tile(np.arange(beam), (rows, 1))
        feed = np.full((rows, beam), pad, np.int64)
        for i, source in enumerate(sources):
            if not source.done:
                total = (source.scores[:, None] + logp[i * beam:(i + 1) * beam]).ravel()
                parents[i], feed[i] = _advance(source, total, classes, eos, beam, step,
                                               max_len, length_penalty)
        if all(source.done for source in sources):
            break
        stepper.reorder((np.arange(rows)[:, None] * beam + parents).ravel())
        scores = stepper.feed(feed.ravel())
    return [source.best() for source in sources]


def _advance(source: _Source, total: np.ndarray, classes: int, eos: int, beam: int,
             step: int, max_len: int, length_penalty: float):
    """Extend one source's beams by one token; (parent beams, tokens fed next)."""
    parents, feed = np.zeros(beam, np.int64), np.zeros(beam, np.int64)
    if step == max_len:  # out of length: the live beams end here, cut
        for tokens, score in zip(source.tokens, source.scores, strict=True):
            if np.isfinite(score):
                source.finished.append((score / max(len(tokens), 1) ** length_penalty,
                                        tokens))
        source.done = True
        return parents, feed
    order = np.argsort(-total, kind="stable")[:2 * beam]
    tokens, scores = [], []
    for rank, candidate in enumerate(order):
        score = total[candidate]
        if not np.isfinite(score) or len(tokens) == beam:
            break
        parent, token = divmod(int(candidate), classes)
        if token == eos:
            if rank < beam:
                source.finished.append((score / (len(source.tokens[parent]) + 1)
                                        ** length_penalty, source.tokens[parent]))
            continue
        parents[len(tokens)], feed[len(tokens)] = parent, token
        tokens.append([*source.tokens[parent], token])
        scores.append(score)
    source.tokens = tokens + [[] for _ in range(beam - len(tokens))]
    source.scores = np.array(scores + [-np.inf] * (beam - len(scores)))
    source.finished = sorted(source.finished, key=lambda f: -f[0])[:beam]
    # done when no live beam, as long as it is now, ranks above the worst kept output
    live = max((score / len(t) ** length_penalty for t, score in zip(tokens, scores,
                                                                      strict=True)),
               default=-np.inf)
    source.done = len(source.finished) >= beam and live <= source.finished[-1][0] \
        or not tokens
    return parents, feed
