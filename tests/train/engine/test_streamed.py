"""Training on an image folder through `StreamedTensors`: the DataLoader reads exactly the
index lists of the epoch's plan, evaluation chunks stream too, a run equals the same run on
the same pixels held in memory, resumes exactly inside an epoch, and (slow) a CNN learns the
digits from PNG files as well as from the arrays, its export taking raw pixels."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from image_folders import digit_folder, write_spec
from run_fixtures import rows, same, weights

import dlspec.train.engine.streamed as streamed
from dlspec.api import train_spec
from dlspec.data.image_decode import ImageShape
from dlspec.data.image_split import ImageReader, ImageSplit
from dlspec.errors import DataError
from dlspec.train.engine.interrupt import RunInterrupted
from dlspec.train.engine.steps import StepPlan
from dlspec.train.objectives.supervised import Supervised

SMALL = ["width=4"]
PER_CLASS = 16  # 160 images: 128 train, 16 val, 16 test


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """An image folder of 16 digits per class, and the same pixels as an npz file."""
    root = tmp_path_factory.mktemp("digits")
    pixels, labels = digit_folder(root / "digits", per_class=PER_CLASS)
    np.savez(root / "digits.npz", image=pixels.astype(np.float32), y=labels)
    return root


def split_of(folder: Path, workers: int = 0) -> ImageSplit:
    paths = np.asarray(sorted(str(p) for p in folder.glob("digits/*/*.png")), dtype=object)
    reader = ImageReader("image", ImageShape(3, 32, 32), np.full(3, 100, np.float32),
                         np.full(3, 50, np.float32), workers)
    return ImageSplit(paths, np.arange(len(paths)) % 10, reader)


@pytest.fixture
def loaders(monkeypatch):
    """The index lists of every DataLoader the streamed split starts."""
    started = []
    real = torch.utils.data.DataLoader

    def spy(dataset, batch_sampler, **kwargs):
        started.append([list(b) for b in batch_sampler])
        return real(dataset, batch_sampler=batch_sampler, **kwargs)

    monkeypatch.setattr(streamed.torch.utils.data, "DataLoader", spy)
    return started


def test_the_loader_reads_the_plans_index_lists(digits, loaders):
    split = split_of(digits, workers=1)
    data = streamed.StreamedTensors(split, "cpu")
    plan = StepPlan.create(len(split), 24, 1, accumulate=2)
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(0))
    micro = [index for step in range(plan.steps_per_epoch)
             for index, _ in plan.batches(step, order)]
    data.stream(micro)
    assert loaders == [[index.tolist() for index in micro]]
    for index in micro:
        batch = data.rows(index)
        pixels = split.reader.image.decode_many(list(split.paths[index.numpy()]))
        expected = split.reader.normalize(pixels)
        assert torch.equal(batch.inputs["image"], torch.from_numpy(expected))
        assert torch.equal(batch.y, torch.as_tensor(split.y[index.numpy()]))
    assert data._stream is None  # read to its end: its worker is gone


def test_evaluation_chunks_stream_and_small_reads_decode_here(digits, loaders):
    data = streamed.StreamedTensors(split_of(digits), "cpu")
    first = data.rows(slice(0, 2))  # a check on two samples: no loader
    assert loaders == [] and first.inputs["image"].shape == (2, 3, 32, 32)
    chunks = [data.rows(slice(a, a + 64)) for a in range(0, len(data), 64)]
    assert loaders == [[list(range(a, min(a + 64, 160))) for a in (0, 64, 128)]]
    assert [len(c) for c in chunks] == [64, 64, 32]
    assert torch.equal(torch.cat([c.inputs["image"] for c in chunks]), data.whole().inputs["image"])


def test_a_damaged_image_stops_training_naming_it(digits, tmp_path):
    shutil.copytree(digits / "digits", tmp_path / "digits")
    victim = sorted((tmp_path / "digits" / "5").iterdir())[0]  # sample 80
    victim.write_bytes(victim.read_bytes()[:60])
    data = streamed.StreamedTensors(split_of(tmp_path, workers=1), "cpu")
    data.stream([slice(0, 64), slice(64, 128)])
    data.rows(slice(0, 64))
    with pytest.raises(DataError, match=f"image {victim} cannot be decoded"):
        data.rows(slice(64, 128))


def train(folder: Path, data: str, name: str, *extra: str, epochs: int = 2, **kw):
    spec = write_spec(folder, data, epochs, name=f"{name}.yaml")
    return train_spec(spec, [*SMALL, *extra], out_root=folder / "runs", run_name=name,
                      quiet=True, **kw)


def test_a_streamed_run_equals_the_run_on_the_arrays(digits):
    """Raw pixels both ways (no standardization): the same splits, batches and weights."""
    images = train(digits, "{images: digits, standardize: false, batch_size: 32, "
                           "workers: 1}", "images")
    arrays = train(digits, "{dataset: npz, path: digits.npz, standardize: false, "
                           "batch_size: 32}", "arrays")
    assert images.history[-1]["val_loss"] == arrays.history[-1]["val_loss"]
    assert images.test_metrics == arrays.test_metrics
    assert same(weights(images.run_dir, "last"), weights(arrays.run_dir, "last"))


def test_a_run_stopped_inside_an_epoch_resumes_exactly(digits, monkeypatch):
    data = "{images: digits, batch_size: 16, workers: 0}"  # 8 steps per epoch
    whole = train(digits, data, "whole", "train.checkpoint_every_steps=3")
    calls = {"n": 0}
    original = Supervised.losses

    def stop_at_step_five(self, update, batch):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self, update, batch)

    monkeypatch.setattr(Supervised, "losses", stop_at_step_five)
    with pytest.raises(RunInterrupted, match="step 3"):  # the checkpoint before step 5
        train(digits, data, "cut", "train.checkpoint_every_steps=3")
    monkeypatch.setattr(Supervised, "losses", original)
    resumed = train_spec(None, resume=digits / "runs" / "cut", quiet=True)
    assert resumed.epochs_run == 2
    assert same(weights(resumed.run_dir, "last"), weights(whole.run_dir, "last"))
    assert rows(resumed.run_dir) == rows(whole.run_dir)


@pytest.mark.slow
def test_a_cnn_learns_the_png_digits_as_well_as_the_arrays(tmp_path):
    """Every digit as a 32x32 PNG (two colour variants), 3 epochs of the test CNN: test
    accuracy 0.944 (170 of 180) from the folder (per-channel standardization), 0.944 from
    the same pixels in an npz file (per-pixel standardization) on the same splits. The exported
    file takes raw pixels: ONNX Runtime on the decoded test images scores as the run did."""
    from dlspec.api_export import export_spec
    from dlspec.backends.onnx_runtime import open_session

    pixels, labels = digit_folder(tmp_path / "digits")
    np.savez(tmp_path / "digits.npz", image=pixels.astype(np.float32), y=labels)
    images = train(tmp_path, "{images: digits, workers: 1}", "images", "width=8", epochs=3)
    arrays = train(tmp_path, "{dataset: npz, path: digits.npz}", "arrays", "width=8",
                   epochs=3)
    folder, memory = images.test_metrics["test_accuracy"], arrays.test_metrics["test_accuracy"]
    assert folder == pytest.approx(0.944, abs=0.006)  # within one test image
    assert memory == pytest.approx(0.944, abs=0.006)

    export_spec(images.run_dir, tmp_path / "images.onnx")
    from dlspec.api import load_data
    from dlspec.train.run_folder.run_spec import load_run_spec

    test = load_data(load_run_spec(images.run_dir)).test
    raw = test.reader.image.decode_many(list(test.paths)).astype(np.float32)
    session = open_session(tmp_path / "images.onnx")
    logits = session.run(None, {session.get_inputs()[0].name: raw})[0]
    assert float((logits.argmax(axis=1) == test.y).mean()) == pytest.approx(folder, abs=1e-6)
