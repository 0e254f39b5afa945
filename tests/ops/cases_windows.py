"""Op-table rows of Swin's window ops (dlspec/ops/windows.py): window_partition,
window_merge, shifted_window_mask, window_position_bias, patch_merge. Their values are checked
against torchvision's shifted_window_attention in test_windows.py."""

from __future__ import annotations

import random

from harness import Case, Reject, Row, T


def _map(rng: random.Random, window: tuple[int, int]) -> tuple[int, int]:
    return window[0] * rng.randint(1, 3), window[1] * rng.randint(1, 3)


def _window(rng: random.Random):
    return rng.choice([2, 3, [2, 3], [3, 2]])


def _pair(window) -> tuple[int, int]:
    return (window, window) if isinstance(window, int) else tuple(window)


def partition_cases(rng: random.Random) -> list[Case]:
    out = []
    for _ in range(4):
        window = _window(rng)
        out.append(Case({"op": "window_partition", "window": window},
                        (T("N", *_map(rng, _pair(window)), rng.randint(1, 6)),)))
    out.append(Case({"op": "window_partition", "window": 7}, (T("N", 56, 56, 96),)))
    return out


def merge_cases(rng: random.Random) -> list[Case]:
    # first one window per image, so the windows' batch is N (the ONNX check takes it);
    # the scaled-down swin_t exports several windows per image (tests/test_canonical_specs.py)
    out = [Case({"op": "window_merge", "window": [2, 3]}, (T("N", 6, 5), T("N", 2, 3, 1)))]
    for _ in range(4):
        window = _window(rng)
        (wh, ww), (h, w) = _pair(window), _map(rng, _pair(window))
        windows = (h // wh) * (w // ww)
        out.append(Case({"op": "window_merge", "window": window},
                        (T(windows * 3 if windows == 1 else f"{windows}*N", wh * ww, 5),
                         T("N", h, w, rng.randint(1, 4)))))
    return out


def mask_cases(rng: random.Random) -> list[Case]:
    out = []
    for _ in range(4):
        window = _window(rng)
        wh, ww = _pair(window)
        shift = rng.choice([[wh // 2, ww // 2], [1, 0], 1])
        out.append(Case({"op": "shifted_window_mask", "window": window, "shift": shift},
                        (T("N", *_map(rng, (wh, ww)), 4),)))
    out.append(Case({"op": "shifted_window_mask", "window": 2, "shift": 1, "value": -1e9},
                    (T("N", 4, 6, 3, dtype="int64"),)))  # only its sizes are read
    return out


def bias_cases(rng: random.Random) -> list[Case]:
    out = []
    for _ in range(3):
        window = _window(rng)
        wh, ww = _pair(window)
        out.append(Case({"op": "window_position_bias", "window": window,
                         "heads": rng.randint(1, 4)}, (T("N", wh * ww, 8),)))
    out.append(Case({"op": "window_position_bias", "window": 7, "heads": 3},
                    (T("N", 49, 96),)))
    return out


def patch_merge_cases(rng: random.Random) -> list[Case]:
    return [Case({"op": "patch_merge"}, (T("N", rng.randint(1, 7), rng.randint(1, 7),
                                           rng.randint(1, 5)),)) for _ in range(3)] + \
        [Case({"op": "patch_merge"}, (T("N", "H", "W", 3),)),
         Case({"op": "patch_merge"}, (T("N", 5, 4, 2, dtype="int64"),))]


ROWS: dict[str, Row] = {
    "window_partition": Row(partition_cases, rejects=(
        Reject("height not a multiple of the window", {"op": "window_partition", "window": 4},
               (T("N", 10, 8, 3),)),
        Reject("symbolic height", {"op": "window_partition", "window": 4},
               (T("N", "H", 8, 3),)),
        Reject("channels first image", {"op": "window_partition", "window": 2},
               (T("N", 3, 8),)),
    )),
    "window_merge": Row(merge_cases, rejects=(
        Reject("windows of another size", {"op": "window_merge", "window": 2},
               (T("4*N", 9, 5), T("N", 4, 4, 5))),
        Reject("another number of windows", {"op": "window_merge", "window": 2},
               (T("N", 4, 5), T("N", 4, 4, 5))),
    )),
    "shifted_window_mask": Row(mask_cases, rejects=(
        Reject("shift as large as the window", {"op": "shifted_window_mask", "window": 2,
                                                "shift": 2}, (T("N", 4, 4, 3),),
               code="DLS102"),
        Reject("map not a multiple of the window", {"op": "shifted_window_mask", "window": 3,
                                                    "shift": 1}, (T("N", 4, 6, 3),)),
    )),
    "window_position_bias": Row(bias_cases, rejects=(
        Reject("windows of another size", {"op": "window_position_bias", "window": 7,
                                           "heads": 2}, (T("N", 48, 8),)),
        Reject("no positions", {"op": "window_position_bias", "window": 2, "heads": 2},
               (T("N"),)),
    )),
    "patch_merge": Row(patch_merge_cases, rejects=(
        Reject("channels first image", {"op": "patch_merge"}, (T("N", 3, 8),)),
        Reject("symbolic channels", {"op": "patch_merge"}, (T("N", 4, 4, "seq"),)),
    )),
}
