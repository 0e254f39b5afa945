"""What dlspec checks before ONNX Runtime (or numpy) sees a file somebody gave it.

Model files (`read_model_bytes`, `parse_checked_model`): a regular file (not a FIFO, device
or folder; a link to /dev/zero would be read until memory runs out), at most 2 GiB (protobuf's
own limit), with one hard link (ONNX Runtime follows hardlinks; a second name is a way to reach a
file outside the folder), reached through no symlink that leaves the model's folder; it parses
as an ONNX model that passes `onnx.checker`, and no tensor anywhere in it (graphs, subgraphs,
functions, training_info) lives in external data: ONNX Runtime would follow the location
(absolute, `..`, a symlink or a hardlink) to any file, so only embedded weights are accepted
(dlspec's own exports embed theirs). The bytes checked are the bytes then loaded, read from one
open file descriptor, so the file cannot change between the check and the load.

Input files (`open_regular`): regular files only, opened without blocking (a FIFO would hang
the open). All problems are DLS503 (model) or DLS504 (input) diagnostics.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from dlspec.errors import Diagnostic, ExportError

MAX_MODEL_BYTES = 2 * 2**30  # protobuf cannot hold a larger ModelProto
KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO (named pipe)",
         stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket"}


def read_model_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a model file that passes the file checks above, or DLS503."""
    target = _inside_its_folder(Path(path))
    handle = _open_regular(target, path, _unsafe)
    with handle:
        info = os.fstat(handle.fileno())
        if info.st_nlink > 1:
            raise _unsafe(f"{path} has {info.st_nlink} hard links; a hardlinked model is "
                          "refused (its other names may lie outside the model's folder)",
                          hint="copy the file (cp) and give the copy")
        if info.st_size > MAX_MODEL_BYTES:
            raise _unsafe(f"{path} is {info.st_size:,} bytes; an ONNX file holds at most "
                          f"{MAX_MODEL_BYTES:,} (2 GiB)")
        data = handle.read(info.st_size + 1)  # never more than the file said it holds
    if len(data) != info.st_size:
        raise _unsafe(f"{path} changed size while it was read")
    return data


def parse_checked_model(data: bytes, path: str | os.PathLike[str]) -> Any:
    """The ModelProto in `data` once it parses, passes onnx.checker and keeps every tensor
    embedded; else DLS503."""
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:
        raise _unsafe(f"{path} is not a readable ONNX file: {first_line(exc)}") from exc
    refuse_external_data(model, path)
    if not model.HasField("graph"):
        raise _unsafe(f"{path} is not an ONNX model: it holds no graph")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise _unsafe(f"{path} is not a valid ONNX model: {first_line(exc)}") from exc
    return model


def refuse_external_data(model: Any, path: str | os.PathLike[str]) -> None:
    """DLS503 if any tensor of `model` (graphs, subgraphs, functions, training_info) lives in
    external data, naming the tensor and where its data would have been read from."""
    import onnx

    for tensor in all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data) > 0:
            raise _unsafe(
                f"{path} keeps tensor '{tensor.name}' in external data "
                f"({_describe_location(tensor, Path(path))}), which is refused",
                hint="re-save the model with its weights embedded (onnx.save_model without "
                "save_as_external_data); files under 2 GB need no external data",
            )


def open_regular(path: str | os.PathLike[str], what: str = "input") -> IO[bytes]:
    """A binary handle on a regular file (symlinks to regular files are fine), or DLS504."""
    return _open_regular(Path(path), path, _misfit, what)


def all_tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto in the model: initializers, constants, subgraphs, functions (and
    their attribute defaults) and the graphs of training_info."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        yield from _attribute_tensors(function.attribute_proto)
        for node in function.node:
            yield from _attribute_tensors(node.attribute)
    for info in model.training_info:
        yield from _graph_tensors(info.initialization)
        yield from _graph_tensors(info.algorithm)


def first_line(exc: BaseException) -> str:
    """The first line of an exception message, for diagnostics."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:400] if lines else type(exc).__name__


def _inside_its_folder(path: Path) -> Path:
    """The file `path` names; a symlink is followed only to a file inside the link's folder."""
    if not path.is_symlink():
        return path
    folder = path.absolute().parent.resolve()
    target = path.resolve()
    if folder not in target.parents:
        raise _unsafe(f"{path} is a symlink to {target}, outside the model's folder {folder}",
                      hint="copy the model into the folder instead of linking to it")
    return target


def _open_regular(path: Path, shown: str | os.PathLike[str], error: Any,
                  what: str = "model") -> IO[bytes]:
    """Open `path` for reading once stat says it is a regular file; checked again on the open
    descriptor (the name may have been swapped in between)."""
    try:
        before = os.stat(path)
    except OSError as exc:
        raise error(f"cannot read {shown}: {exc.strerror or exc}") from exc
    _refuse_irregular(before.st_mode, shown, error, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise error(f"cannot read {shown}: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise error(f"{shown} was replaced while it was opened")
    _refuse_irregular(info.st_mode, shown, error, what)
    return os.fdopen(fd, "rb")


def _refuse_irregular(mode: int, shown: Any, error: Any, what: str) -> None:
    if not stat.S_ISREG(mode):
        kind = KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise error(f"{shown} is {kind}; the {what} must be a regular file")


def _describe_location(tensor: Any, path: Path) -> str:
    """Where a tensor's external data points: the location and why it is unsafe."""
    entries = {entry.key: entry.value for entry in tensor.external_data}
    location = entries.get("location", "")
    if not location:
        return "no location given"
    if os.path.isabs(location):
        return f"location '{location}' is an absolute path"
    if ".." in Path(location).parts:
        return f"location '{location}' leaves the model's folder"
    target = path.parent / location
    if target.is_symlink():
        return f"location '{location}' is a symlink to {target.resolve()}"
    try:
        links = os.stat(target).st_nlink
    except OSError:
        return f"location '{location}', which does not exist"
    if links > 1:
        return f"location '{location}' has {links} hard links"
    return f"location '{location}'"


def _graph_tensors(graph: Any) -> Iterator[Any]:
    """Tensors of one graph and its nested subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        yield from _attribute_tensors(node.attribute)


def _attribute_tensors(attributes: Sequence[Any]) -> Iterator[Any]:
    """Tensors held by node attributes, including those of subgraph attributes."""
    for attribute in attributes:
        if attribute.HasField("t"):
            yield attribute.t
        yield from attribute.tensors
        sparse = list(attribute.sparse_tensors)
        if attribute.HasField("sparse_tensor"):
            sparse.append(attribute.sparse_tensor)
        for item in sparse:
            yield from (item.values, item.indices)
        graphs = list(attribute.graphs) + ([attribute.g] if attribute.HasField("g") else [])
        for graph in graphs:
            yield from _graph_tensors(graph)


def _unsafe(message: str, hint: str | None = None) -> ExportError:
    """A DLS503 error (unsafe or unreadable ONNX file)."""
    return ExportError(Diagnostic("DLS503", message, hint=hint))


def _misfit(message: str, hint: str | None = None) -> ExportError:
    """A DLS504 error (prediction input does not fit the model)."""
    return ExportError(Diagnostic("DLS504", message, hint=hint))
