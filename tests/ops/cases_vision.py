"""Op-table rows of the vision extras: upsample, pixel_shuffle, squeeze_excitation,
patch_embedding, class_token."""

from __future__ import annotations

import random

from cases_conv import SYMBOLIC
from harness import Case, Reject, Row, T, int_input_reject


def upsample_cases(rng: random.Random) -> list[Case]:
    out = []
    for mode, rank in [("nearest", 2), ("bilinear", 2), ("nearest", 1), ("linear", 1),
                       ("nearest", 3), ("trilinear", 3), ("bicubic", 2), ("bilinear", 2)]:
        config: dict = {"op": "upsample", "mode": mode}
        if mode != "nearest":
            config["align_corners"] = rng.random() < 0.5
        spatial = SYMBOLIC[rank] if rng.random() < 0.5 else \
            tuple(rng.randint(1, 6) for _ in range(rank))
        if rng.random() < 0.3:
            config["size"] = [rng.randint(1, 9) for _ in range(rank)]
        else:  # whole factors keep symbolic sizes symbolic (2*H)
            factors = [rng.randint(1, 3) for _ in range(rank)]
            config["scale_factor"] = factors if rng.random() < 0.5 else factors[0]
        out.append(Case(config, (T("N", rng.randint(1, 3), *spatial),)))
    return out


UPSAMPLE_FIXED = (
    # floor(7 * 1.5) = 10, floor(5 * 1.5) = 7; floor(5 * 0.5) = 2
    Case({"op": "upsample", "scale_factor": 1.5, "mode": "bilinear"}, (T("N", 2, 7, 5),)),
    Case({"op": "upsample", "scale_factor": [0.5, 2]}, (T("N", 2, 5, "W"),)),
    Case({"op": "upsample", "size": 4}, (T("N", 2, "H", "W"),)),
)

UPSAMPLE_REJECTS = (
    Reject("bilinear on a sequence", {"op": "upsample", "scale_factor": 2, "mode": "bilinear"},
           (T("N", 2, 8),)),
    Reject("linear on an image", {"op": "upsample", "scale_factor": 2, "mode": "linear"},
           (T("N", 2, 8, 8),)),
    Reject("no spatial dim", {"op": "upsample", "scale_factor": 2}, (T("N", 8),)),
    Reject("three factors for two spatial dims", {"op": "upsample", "scale_factor": [2, 2, 2]},
           (T("N", 2, 8, 8),)),
    Reject("fractional factor on a symbolic size", {"op": "upsample", "scale_factor": 1.5},
           (T("N", 2, "H", 8),)),
    Reject("factor that leaves nothing", {"op": "upsample", "scale_factor": 0.2},
           (T("N", 2, 4, 8),)),
    int_input_reject("upsample", {"scale_factor": 2}, ("N", 2, 4, 4)),
)


def pixel_shuffle_cases(rng: random.Random) -> list[Case]:
    out = []
    for spatial in [("H", "W"), (rng.randint(1, 5), rng.randint(1, 5)), (3, "W")]:
        r = rng.randint(1, 3)
        out.append(Case({"op": "pixel_shuffle", "upscale_factor": r},
                        (T("N", r * r * rng.randint(1, 3), *spatial),)))
    out.append(Case({"op": "pixel_shuffle", "upscale_factor": 2},
                    (T("N", 8, 3, 4, dtype="int64"),)))  # a rearrangement: any dtype
    return out


def squeeze_excitation_cases(rng: random.Random) -> list[Case]:
    out = []
    for i in range(5):
        channels = rng.randint(1, 40)
        config: dict = {"op": "squeeze_excitation", "activation": rng.choice(["relu", "silu"]),
                        "gate": rng.choice(["sigmoid", "hardsigmoid"])}
        if i % 3 == 0:
            config["squeeze_channels"] = rng.randint(1, 12)
        elif i % 3 == 1:
            config["reduction"] = rng.choice([1, 4, 16, 64])  # 64 > C: one squeeze channel
        spatial = ("H", "W") if i % 2 else (rng.randint(1, 6), rng.randint(1, 6))
        out.append(Case(config, (T("N", channels, *spatial),)))
    return out


def patch_embedding_cases(rng: random.Random) -> list[Case]:
    out = []
    for i in range(4):
        patch = [rng.randint(1, 4), rng.randint(1, 4)] if i % 2 else rng.randint(1, 4)
        ph, pw = patch if isinstance(patch, list) else (patch, patch)
        channels = rng.randint(1, 4)
        config = {"op": "patch_embedding", "embed_dim": rng.randint(1, 24),
                  "patch_size": patch, "bias": rng.random() < 0.5}
        if i == 0:
            config["in_channels"] = channels
        out.append(Case(config, (T("N", channels, ph * rng.randint(1, 4),
                                   pw * rng.randint(1, 4)),)))
    # patch 1: every pixel a patch, H*W of them; ViT-B/16 on 224 x 224: 14 * 14 = 196
    out.append(Case({"op": "patch_embedding", "embed_dim": 6, "patch_size": 1},
                    (T("N", 3, "H", "W"),)))
    out.append(Case({"op": "patch_embedding", "embed_dim": 8, "patch_size": 16},
                    (T("N", 3, 224, 224),)))
    return out


PATCH_REJECTS = (
    Reject("height not a multiple of the patch", {"op": "patch_embedding", "embed_dim": 8,
                                                  "patch_size": 4}, (T("N", 3, 10, 8),)),
    Reject("symbolic width", {"op": "patch_embedding", "embed_dim": 8, "patch_size": 4},
           (T("N", 3, 8, "W"),)),
    Reject("in_channels disagrees", {"op": "patch_embedding", "embed_dim": 8,
                                     "patch_size": 2, "in_channels": 1}, (T("N", 3, 8, 8),)),
    Reject("a sequence, not an image", {"op": "patch_embedding", "embed_dim": 8,
                                        "patch_size": 2}, (T("N", 3, 8),)),
    int_input_reject("patch_embedding", {"embed_dim": 8, "patch_size": 2}, ("N", 3, 4, 4)),
)


def class_token_cases(rng: random.Random) -> list[Case]:
    return [Case({"op": "class_token"}, (T("N", seq, rng.randint(1, 16)),))
            for seq in ("seq", rng.randint(1, 9), 196)]


ROWS: dict[str, Row] = {
    "upsample": Row(upsample_cases, extra_cases=UPSAMPLE_FIXED, rejects=UPSAMPLE_REJECTS),
    "pixel_shuffle": Row(pixel_shuffle_cases, rejects=(
        Reject("channels not divisible by r*r", {"op": "pixel_shuffle", "upscale_factor": 2},
               (T("N", 6, 4, 4),)),
        Reject("symbolic channels", {"op": "pixel_shuffle", "upscale_factor": 2},
               (T("N", "seq", 4, 4),)),
        Reject("a sequence, not an image", {"op": "pixel_shuffle", "upscale_factor": 2},
               (T("N", 4, 8),)),
    )),
    "squeeze_excitation": Row(squeeze_excitation_cases, rejects=(
        Reject("a sequence, not an image", {"op": "squeeze_excitation"}, (T("N", 16, 8),)),
        Reject("symbolic channels", {"op": "squeeze_excitation"}, (T("N", "seq", 4, 4),)),
        int_input_reject("squeeze_excitation", shape=("N", 16, 4, 4)),
    )),
    "patch_embedding": Row(patch_embedding_cases, rejects=PATCH_REJECTS),
    "class_token": Row(class_token_cases, rejects=(
        Reject("an image, not a sequence", {"op": "class_token"}, (T("N", 3, 4, 4),)),
        Reject("symbolic embedding size", {"op": "class_token"}, (T("N", 4, "seq"),)),
        int_input_reject("class_token", shape=("N", "seq", 4)),
    )),
}
