"""dlspec.search.report: best.yaml's text, read from the spec file without running anything."""

from __future__ import annotations

import yaml

from dlspec.search.report import best_spec_text


def test_best_yaml_names_the_spec_files_absolutely_and_drops_the_search(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    spec = folder / "s.yaml"
    spec.write_text("name: s\nparams: {file: w.safetensors}\n"
                    "data: {dataset: csv, path: data/x.csv, target: y}\n"
                    "train: {epochs: 3, init_from: {path: ../runs/a}}\n"
                    "search: {space: {optimizer.lr: {choice: [0.1]}}}\n")
    text = best_spec_text(spec, ["train.epochs=5", "params.file=v.safetensors"],
                          "best trial 3\nfrom s.yaml")
    assert text.startswith("# best trial 3\n# from s.yaml\n")
    data = yaml.safe_load(text)
    assert "search" not in data and data["train"]["epochs"] == 5
    assert data["data"]["path"] == str(folder.resolve() / "data/x.csv")
    assert data["train"]["init_from"]["path"] == str(folder.resolve() / "../runs/a")
    assert data["params"] == {"file": "v.safetensors"}
