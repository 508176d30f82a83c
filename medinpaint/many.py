"""Inpaint many files from a table of (input, mask) pairs, with a report and resume; sharded under torchrun.

The table is a CSV with columns ``input`` and ``mask`` and optionally ``output`` and
``brain_mask`` (the input's brain mask file, ``inpaint --brain-mask``; empty = none); paths are read
relative to the current folder, as on the ``inpaint`` command line, and an ``output`` relative to
the output folder. A pair without an output is written under the output folder with its input's
name (PNG for JPG inputs, ``-2``, ``-3``, ... when two inputs share a name).

Each pair is filled by :func:`medinpaint.file_inpainting.inpaint_file` with one model loaded once
per process. A pair that fails is reported and the others go on; a pair whose output exists is
skipped (so a second run resumes), unless ``overwrite``. Under ``torchrun`` each rank takes every
``world_size``-th pair and rank 0 writes the merged ``report.csv``.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch.distributed as dist
from tqdm.auto import tqdm

from medinpaint.checkpoint import load_models
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting import BLEND_METHODS
from medinpaint.native_inpainting import check_method, default_method
from medinpaint.io.atomic import atomic_write
from medinpaint.distributed import distributed_context

__all__ = ["Pair", "PairResult", "REPORT_NAME", "STATUSES", "inpaint_many", "read_pairs"]

REPORT_NAME = "report.csv"
STATUSES = ("ok", "failed", "skipped")
RESULT_SUFFIX = {".jpg": ".png", ".jpeg": ".png", ".hdr": ".nii.gz", ".img": ".nii.gz"}  # results of JPG inputs are PNG, of NIfTI pairs one .nii.gz


@dataclass(frozen=True)
class Pair:
    """One row of the table: the input, its mask (a file or a generated kind) and where the result goes."""

    input: str
    mask: str
    output: Path
    brain_mask: str | None = None


@dataclass(frozen=True)
class PairResult:
    """One row of ``report.csv``.

    Attributes:
        input, mask: as written in the table.
        output: the result's path.
        status: ``ok``, ``failed`` or ``skipped`` (the output existed).
        message: what was filled (and the report's notes, each after ``; note:``), or the one-line error.
        seconds: wall time of the pair.
    """

    input: str
    mask: str
    output: str
    status: str
    message: str
    seconds: float


def _split_name(name: str) -> tuple[str, str]:
    """``"t1.nii.gz"`` -> ``("t1", ".nii.gz")``; the suffix of a JPG input becomes ``.png``, of a NIfTI pair ``.nii.gz``."""
    suffix = ".nii.gz" if name.lower().endswith(".nii.gz") else Path(name).suffix
    return name[: len(name) - len(suffix)], RESULT_SUFFIX.get(suffix.lower(), suffix)


def _derived_name(input_path: str, taken: set[str]) -> str:
    stem, suffix = _split_name(Path(input_path).name)
    name, count = stem + suffix, 1
    while name in taken:
        count += 1
        name = f"{stem}-{count}{suffix}"
    return name


def read_pairs(table: str | os.PathLike, out_dir: str | os.PathLike) -> list[Pair]:
    """Read the table and name every output under ``out_dir``.

    Raises:
        MedinpaintError: missing or unreadable table, a missing column, an empty cell, no rows,
            or two rows with the same output.

    Example:
        >>> import tempfile
        >>> table = Path(tempfile.mkdtemp()) / "pairs.csv"
        >>> _ = table.write_text("input,mask\\na/t1.nii.gz,a/lesion.nii.gz\\nb/t1.nii.gz,quarter\\nc/x.jpg,box:20\\nd/t1.hdr,d/lesion.hdr\\n")
        >>> [pair.output.as_posix() for pair in read_pairs(table, "out")]
        ['out/t1.nii.gz', 'out/t1-2.nii.gz', 'out/x.png', 'out/t1-3.nii.gz']
    """
    table, out_dir = Path(table), Path(out_dir)
    if not table.is_file():
        raise MedinpaintError(f"table {table} does not exist: give a CSV file with columns input,mask[,output][,brain_mask]")
    try:
        with open(table, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
            columns = set(rows[0]) if rows else set()
    except (UnicodeDecodeError, csv.Error) as err:
        raise MedinpaintError(f"table {table} is not a readable CSV file ({err}): save it as CSV (UTF-8)") from err
    if not rows:
        raise MedinpaintError(f"table {table} has no rows: add a header input,mask and one line per pair")
    missing = [column for column in ("input", "mask") if column not in columns]
    if missing:
        raise MedinpaintError(
            f"table {table} lacks column(s) {', '.join(missing)} (it has {', '.join(sorted(map(str, columns)))}): "
            "the header must be input,mask[,output][,brain_mask]"
        )
    for line, row in enumerate(rows, start=2):
        if not (row["input"] or "").strip() or not (row["mask"] or "").strip():
            raise MedinpaintError(f"table {table} line {line} has an empty input or mask: fill both cells or remove the line")
    explicit = [(row.get("output") or "").strip() for row in rows]
    given = [name for name in explicit if name]
    if len(set(given)) < len(given):
        twice = sorted({name for name in given if given.count(name) > 1})
        raise MedinpaintError(f"table {table} gives output {twice[0]} to more than one pair: give each pair its own output")
    taken = set(given)
    pairs = []
    for row, output in zip(rows, explicit):
        if not output:
            output = _derived_name(row["input"].strip(), taken)
            taken.add(output)
        pairs.append(Pair(row["input"].strip(), row["mask"].strip(), out_dir / output, (row.get("brain_mask") or "").strip() or None))
    return pairs


def _inpaint_pair(pair: Pair, models, overwrite: bool, file_options: dict) -> PairResult:
    started = time.perf_counter()

    def result(status: str, message: str) -> PairResult:
        return PairResult(pair.input, pair.mask, str(pair.output), status, message, round(time.perf_counter() - started, 3))

    if pair.output.exists() and not overwrite:
        return result("skipped", "output exists (a previous run wrote it): pass --overwrite to fill it again")
    try:
        pair.output.parent.mkdir(parents=True, exist_ok=True)  # an output column may name a subfolder
        report = inpaint_file(
            pair.input, pair.mask, pair.output, models=models, overwrite=overwrite, progress=False, brain_mask=pair.brain_mask, **file_options
        )
    except MedinpaintError as err:
        return result("failed", str(err).splitlines()[0])
    except Exception as err:  # a valid-looking file that breaks a reader: report it, go on with the others
        return result("failed", f"unexpected {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    return result("ok", "; ".join([str(report).splitlines()[0], *(f"note: {note}" for note in report.notes)]))


def _write_report(path: Path, results: list[PairResult]) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=[field.name for field in fields(PairResult)])
            writer.writeheader()
            writer.writerows(asdict(result) for result in results)

    return atomic_write(path, write, overwrite=True)


def inpaint_many(
    table: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    checkpoint: str | os.PathLike | None = None,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
    **file_options,
) -> list[PairResult]:
    """Fill every (input, mask) pair of ``table``, write the results and ``out_dir/report.csv``.

    Under ``torchrun`` each process fills every ``world_size``-th pair on its own device (gloo on
    CPU, NCCL on CUDA) and rank 0 writes the report of all pairs.

    Args:
        table: CSV with columns ``input``, ``mask`` and optionally ``output`` (see the module doc).
        out_dir: output folder (created).
        checkpoint: DCGAN checkpoint; None = the embedded brain-MRI model. Loaded once per process.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        overwrite: fill pairs whose output exists again (otherwise they are skipped).
        progress: show files done and an ETA (rank 0).
        file_options: further keyword arguments of :func:`~medinpaint.file_inpainting.inpaint_file`
            (``slices``, ``axis``, ``search``, ``blend_method``, ...), the same for every pair.

    Returns:
        One :class:`PairResult` per pair, in table order (every rank returns all of them).

    Raises:
        MedinpaintError: a bad table or an unusable checkpoint (before any pair is filled).
    """
    pairs = read_pairs(table, out_dir)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise MedinpaintError(f"--out-dir {out_dir} is a file: give a folder")
    blend_method = file_options.get("blend_method", "poisson")
    if blend_method not in BLEND_METHODS:  # options that inpaint_file would refuse on every pair
        raise MedinpaintError(f"unknown blend method {blend_method!r}: use one of {', '.join(BLEND_METHODS)}")
    method = check_method(file_options.get("method", "auto"))
    out_dir.mkdir(parents=True, exist_ok=True)
    with distributed_context(device) as context:
        models = load_models(checkpoint, device=context.device)
        default_method(models, method)  # --method network with a checkpoint that has none: refused before any pair
        share = list(range(context.rank, len(pairs), context.world_size))
        label = "files" if not context.is_distributed else f"files (rank 0 of {context.world_size})"
        done = {}
        for index in tqdm(share, desc=label, unit="file", disable=not (progress and context.is_main)):
            done[index] = _inpaint_pair(pairs[index], models, overwrite, file_options)
        if context.is_distributed:
            gathered = [None] * context.world_size
            dist.all_gather_object(gathered, done)
            done = {index: result for part in gathered for index, result in part.items()}
        results = [done[index] for index in range(len(pairs))]
        if context.is_main:
            _write_report(out_dir / REPORT_NAME, results)
    return results
