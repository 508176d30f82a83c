"""The end of every experiment run: record, metrics, figures and table in its results folder.

Every experiment (``demo``, ``experiment dropout``, ``reproduce celeba``) ends the same way:
:func:`finish_run` writes ``config.json`` and ``metrics.csv`` / ``metrics.json``, draws the
run's figures (e.g. :func:`save_comparison_grid`) and writes (and prints) ``table.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from medinpaint.experiments.evaluation import METHOD, Evaluation, best_baseline
from medinpaint.experiments.results import save_results, save_table
from medinpaint.figures import mask_to_rgb, save_panel_grid, to_rgb

__all__ = ["finish_run", "save_comparison_grid"]


def save_comparison_grid(
    path: str | Path,
    evaluation: Evaluation,
    picks: Sequence[tuple[int, dict]],
    *,
    row_labels: Sequence[str],
    extra_outputs: Sequence[tuple[str, str, str]] = (),
    title: str | None = None,
) -> Path:
    """Save rows of input | mask | medinpaint | [extra outputs] | best baseline | truth.

    Args:
        path: output PNG path.
        evaluation: what :func:`medinpaint.experiments.evaluation.evaluate_inpainting` produced.
        picks: ``(image index, group)`` per row; the best baseline (highest hole PSNR) is chosen
            within ``group``.
        row_labels: one label per row.
        extra_outputs: ``(method, output, column title)`` shown after medinpaint's blended output.
        title: optional figure title.

    Returns:
        ``path``.
    """
    panels, labels = [], []
    for (index, group), label in zip(picks, row_labels):
        baseline = best_baseline(evaluation.rows, group)
        known = evaluation.known[index]
        panels.append(
            [to_rgb(evaluation.corrupted[index], known), mask_to_rgb(known), to_rgb(evaluation.outputs[(METHOD, "blended")][index])]
            + [to_rgb(evaluation.outputs[(method, output)][index]) for method, output, _ in extra_outputs]
            + [to_rgb(evaluation.outputs[(baseline, "blended")][index]), to_rgb(evaluation.truth[index])]
        )
        labels.append(f"{label}\nbest baseline: {baseline}")
    columns = ["input (red = missing)", "mask (white = fill)", "medinpaint"]
    columns += [column for _, _, column in extra_outputs] + ["best baseline", "truth"]
    return save_panel_grid(path, panels, row_labels=labels, col_labels=columns, title=title)


def finish_run(
    run_dir: Path,
    record: dict,
    rows: Sequence[dict],
    *,
    figures: Mapping[str, Callable[[Path], Path]],
    table_keys: Sequence[str],
    table_columns: Sequence[tuple],
    echo: bool,
) -> Path:
    """Write a run's results into its folder and return the folder.

    Args:
        run_dir: the run's new folder (:func:`medinpaint.experiments.results.new_run_dir`).
        record: the ``config.json`` (:func:`medinpaint.experiments.setting.run_record`).
        rows: metric rows.
        figures: ``{file name: draw(path)}``, each drawn into ``run_dir``.
        table_keys, table_columns: the table's row keys and columns (see
            :func:`medinpaint.experiments.results.save_table`).
        echo: also print the table.

    Returns:
        ``run_dir``.

    Example:
        >>> import tempfile
        >>> rows = [{"method": "m", "output": "blended", "region": "hole", "metric": "psnr", "value": 20.0,
        ...          "std": 0.0, "n_images": 1, "note": ""}]
        >>> run = finish_run(Path(tempfile.mkdtemp()), {"seed": 0}, rows, figures={}, table_keys=["method"],
        ...                  table_columns=[("blended", "hole", "psnr")], echo=False)
        >>> sorted(p.name for p in run.iterdir())
        ['config.json', 'metrics.csv', 'metrics.json', 'table.md']
    """
    save_results(run_dir, record, rows)
    for name, draw in figures.items():
        draw(run_dir / name)
    save_table(run_dir, rows, table_keys, table_columns, echo=echo)
    return run_dir
