"""The ``zongjie`` command: a thin layer over the library functions."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from extract.runner import RunOptions, RunStats


def extractor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--extractor and --model, shared by the commands that extract figures.

    The extractor defaults to ``hybrid`` where a trained model is there (the packaged one, or
    --model), else to ``rules``, saying so on stderr.
    """
    command = click.option(
        "--model",
        "model_path",
        type=click.Path(path_type=Path),
        default=None,
        help="Trained model for --extractor model/hybrid (default: the packaged one).",
    )(command)
    return click.option(
        "--extractor",
        type=click.Choice(["rules", "model", "hybrid"]),
        default=None,
        callback=_default_extractor,
        help="Figure extractor: rules, the model alone, or hybrid (rules first, the model where they are "
        "unsure). Default: hybrid with the packaged model, rules when there is none.",
    )(command)


def _default_extractor(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if value is not None:
        return value
    from extract.model import SHIPPED_MODEL

    model_path = ctx.params.get("model_path")
    folder = Path(model_path) if model_path is not None else SHIPPED_MODEL
    if (folder / "config.cfg").is_file():
        return "hybrid"
    if model_path is not None:  # asked for a model that is not there: say so, do not fall back
        raise click.BadParameter(f"no trained model at {folder} (train one with `zongjie train`)", ctx, param)
    click.echo(f"no trained model at {folder}: extracting with the rules only (make model trains one)", err=True)
    return "rules"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="zongjie")
def cli(verbose: int) -> None:
    """zongjie (总结): reported figures from Chinese union summaries, as traceable tables."""
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from extract.compiled import stale_modules

    for source in stale_modules():
        logging.getLogger("zongjie").warning("%s changed after it was compiled: its old code runs until `make`", source)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder of the store (zongjie.duckdb) and the exported tables.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes working in parallel (default: all cores; 1 runs in this process).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 when any input has rows in errors (after writing everything), not 0.",
)
@click.option(
    "--max-file-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Largest single document read (a file, or a member of a .zip), in MiB; larger ones go to "
    "errors. [default: 64]",
)
@click.option(
    "--max-chars",
    type=click.IntRange(min=1),
    default=None,
    help="Longest text of one document, in characters; longer ones go to errors. [default: 1000000]",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local processes, or a Dask distributed cluster (needs zongjie[dask]).",
)
@click.option(
    "--scheduler",
    metavar="ADDR",
    default=None,
    help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: start a local cluster).",
)
@click.option("--rebuild", is_flag=True, help="Empty the store first instead of adding to it.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,  # RunOptions.batch_inputs (the runner is imported only when a command runs)
    show_default=True,
    help="Inputs written to the store per transaction.",
)
@extractor_options
@click.option(
    "--metadata",
    "metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A CSV of path,organisation,year,doc_type rows (path under the archive, e.g. 2019/总结.docx): "
    "its values override what the text says; documents.csv names where each value came from.",
)
@click.option(
    "--audit/--no-audit",
    default=True,
    show_default=True,
    help="Run the audit over the whole store after the extraction.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on a terminal, periodic lines otherwise (default); --no-progress: neither.",
)
@click.pass_context
def extract(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    out_dir: Path,
    workers: int | None,
    strict: bool,
    max_file_mb: float | None,
    max_chars: int | None,
    engine: str,
    scheduler: str | None,
    rebuild: bool,
    batch_size: int,
    extractor: str,
    model_path: Path | None,
    metadata: Path | None,
    audit: bool,
    progress: bool | None,
) -> None:
    """Read INPUTS (files and folders, any mix) into the store in --out, then export every table.

    Unchanged files are skipped, changed ones replaced; the CSV/Parquet files in --out always
    hold the whole store. Inputs that cannot be read go to the errors table and the run goes on.

    Exit status: 0 when the run completed (failures are in errors; with --strict, 1 if there are
    any), 2 for a usage error, 1 when the output cannot be written, 130 after Ctrl-C (what was
    finished is kept).

    Example:
        zongjie extract corpus/ --out out --workers 4
        zongjie extract /archive --out out --engine dask --scheduler tcp://10.0.0.5:8786
        zongjie extract /archive --out out --metadata /archive/metadata.csv
    """
    if scheduler and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask", ctx)
    if out_dir.exists() and not out_dir.is_dir():
        raise click.ClickException(f"cannot write to --out {out_dir}: it is a file, not a folder")
    try:
        from dataclasses import replace

        from extract.ingest import Limits
        from extract.runner import RunOptions

        limits = Limits()
        if max_file_mb is not None:
            cap = int(max_file_mb * 1024 * 1024)
            limits = replace(limits, max_document_bytes=cap, max_file_bytes=max(cap, limits.max_file_bytes))
        if max_chars is not None:
            limits = replace(limits, max_text_chars=max_chars)

        pipeline_args: dict[str, object] = {"extractor": extractor}
        if model_path is not None:
            pipeline_args["model_path"] = model_path
        if metadata is not None:
            from extract.text.hints import Sidecar, SidecarError

            try:
                Sidecar.load(metadata)  # checked here: a bad row is one line, before any work
            except SidecarError as exc:
                raise click.ClickException(str(exc)) from exc
            pipeline_args["metadata"] = str(metadata.resolve())
        options = RunOptions(
            engine=engine,  # type: ignore[arg-type]
            workers=workers,
            scheduler=scheduler,
            rebuild=rebuild,
            batch_inputs=batch_size,
            audit=audit,
            limits=limits,
            pipeline_args=pipeline_args,
        )
        stats = _run_extract(inputs, out_dir, options, progress)
    except KeyboardInterrupt:  # before the run began, or while it was exporting
        click.echo("interrupted; what was committed is kept", err=True)
        ctx.exit(130)
    unchanged = f", {stats.unchanged_errors} errors kept from unchanged files" if stats.unchanged_errors else ""
    not_read = f", {stats.not_read} not read: errors.csv says why" if stats.not_read else ""
    click.echo(
        f"{stats.documents} documents, {stats.figures} figures, {stats.rejected} rejected, "
        f"{stats.errors} errors from {stats.processed} files ({stats.skipped} unchanged{unchanged}{not_read}) "
        f"in {stats.seconds:.1f}s → {out_dir}",
        err=True,
    )
    if stats.status == "interrupted":
        ctx.exit(130)
    if strict and stats.errors + stats.unchanged_errors:
        click.echo(f"--strict: inputs failed; see {out_dir / 'errors.csv'}", err=True)
        ctx.exit(1)


def _run_extract(inputs: tuple[Path, ...], out_dir: Path, options: RunOptions, progress: bool | None) -> RunStats:
    from extract.progress import make_progress
    from extract.runner import EngineUnavailable, count_inputs, run
    from extract.store import StoreError

    stderr = sys.stderr  # click's test runner swaps it too
    reporter = None
    if progress is not False:
        tty = stderr.isatty() if progress is None else progress
        reporter = make_progress(
            stderr,
            lambda line: click.echo(line, err=True),
            enabled=tty,
            total=count_inputs(inputs, exclude=[out_dir]) if tty else None,
        )
    import duckdb

    try:
        return run(inputs, out_dir, options, reporter)
    except (StoreError, EngineUnavailable, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except (OSError, duckdb.IOException, duckdb.PermissionException) as exc:
        # inputs that cannot be read become rows in errors: what escapes is the output failing
        detail = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise click.ClickException(f"cannot write the output in {out_dir}: {detail}") from exc
    finally:
        if reporter is not None:
            reporter.close()


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--format",
    "formats",
    type=click.Choice(["csv", "parquet", "xlsx"]),
    multiple=True,
    default=("csv",),
    show_default=True,
    help="Export format (repeat for several).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The .xlsx file (default: DIRECTORY/zongjie.xlsx).",
)
def export(directory: Path, formats: tuple[str, ...], output: Path | None) -> None:
    """Export every table of the store in DIRECTORY again: CSV (UTF-8, BOM), Parquet, or xlsx.

    xlsx has one sheet per table (figures with their source sentence and file); a table over
    Excel's row limit continues on further sheets, as the notes sheet says.

    Example:
        zongjie export out --format xlsx
    """
    from extract.store import Store, StoreError

    try:
        with Store(directory, read_only=True) as store:
            written = store.export(directory, formats, xlsx_path=output)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in written:
        click.echo(str(path))


@cli.command()
@click.argument("text")
@extractor_options
def explain(text: str, extractor: str, model_path: Path | None) -> None:
    """Show each candidate number in TEXT, the rules that fired, and why it was kept or rejected.

    Example:
        zongjie explain "签订工资专项集体合同31份，覆盖职工3697人"
        zongjie explain --extractor hybrid "慰问困难职工56户"
    """
    from extract.model.predict import ModelNotFound
    from extract.pipeline import Pipeline, raw_from_text

    try:
        pipeline = Pipeline(extractor=extractor, model_path=model_path)
    except ModelNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    for doc, extraction in pipeline.explain(raw_from_text(text, "explain")):
        click.echo(f"# {doc.meta.doc_id} ({doc.meta.doc_type})")
        for d in extraction.decisions:
            mark = "KEEP" if d.kept else "SKIP"
            click.echo(f"{mark} {d.surface!r} [{d.start}:{d.end}] {d.reason}")
            for m in d.metric_matches[:5]:
                click.echo(
                    f"     rule {m.rule_id} → {m.metric} cue {m.cue!r} distance {m.distance} score {m.score:.1f}"
                )
            if d.status_cue:
                click.echo(f"     status cue {d.status_cue!r}")


@cli.command()
@click.argument("directory", type=click.Path(exists=True, path_type=Path, file_okay=False))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Readable findings, or one JSON object per finding per line.",
)
@click.option(
    "--min-severity",
    type=click.Choice(["info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Print only findings this bad or worse (the tables always hold all).",
)
def audit(directory: Path, output_format: str, min_severity: str) -> None:
    """Audit the documents and figures in DIRECTORY: write records and findings there, print the findings.

    Reads documents/figures (.parquet, else .csv) and writes contracts, membership, funds, assistance,
    elections, election_candidates, activities, findings and record_errors (CSV + Parquet).

    Example:
        zongjie audit out --min-severity warning
    """
    from extract.audit import AuditRulesError, run_audit
    from extract.audit.report import (
        AuditInputError,
        format_finding,
        format_json,
        read_inputs,
        select,
        summary,
        write_outputs,
    )

    try:
        documents, figures = read_inputs(directory)
        frames = run_audit(documents, figures)
    except (AuditInputError, AuditRulesError) as exc:
        raise click.ClickException(str(exc)) from exc
    write_outputs(frames, directory)
    for row in select(frames["findings"], min_severity):
        click.echo(format_json(row) if output_format == "json" else format_finding(row) + "\n")
    click.echo(f"{summary(frames)} → {directory}", err=True)


@cli.command("eval")
@click.argument("gold", type=click.Path(exists=True, path_type=Path))
@click.argument("predictions", type=click.Path(exists=True, path_type=Path))
@click.option("--docs-from-gold", is_flag=True, help="Keep only predicted rows whose file appears in the gold.")
@click.option("--by-metric", is_flag=True, help="Also print P/R/F1 for each metric id.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def eval_cmd(gold: Path, predictions: Path, docs_from_gold: bool, by_metric: bool, as_json: bool) -> None:
    """Score PREDICTIONS (an output folder or figures file) against GOLD (.gold.jsonl or a folder of them).

    Example:
        zongjie eval ../shared/corpus/seed-town-union-summaries.gold.jsonl out/
    """
    import json

    from extract.evaluate import format_scores, read_gold, read_predictions, score, score_by_metric

    pred_rows = read_predictions(predictions)
    gold_rows = read_gold(gold, {str(r.get("doc") or r.get("doc_id") or "") for r in pred_rows})
    if docs_from_gold:
        files = {str(r["doc"]).split("#", 1)[0] for r in gold_rows}
        pred_rows = [r for r in pred_rows if str(r.get("doc") or r.get("doc_id") or "").split("#", 1)[0] in files]
    scores = score(gold_rows, pred_rows)
    if as_json:
        click.echo(json.dumps(scores, ensure_ascii=False))
        return
    click.echo(format_scores(scores))
    if by_metric:
        click.echo()
        click.echo(format_scores(score_by_metric(gold_rows, pred_rows)))


@cli.command("check-rules")
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A rules folder to check instead of the packaged one.",
)
def check_rules(rules_dir: Path | None) -> None:
    """Load and validate every rules file; exit 1 with the file, rule and field on the first error.

    Example:
        zongjie check-rules
    """
    from extract.rules import RulesError, load_rules

    try:
        rules = load_rules(rules_dir)
    except RulesError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"rules OK: {len(rules.taxonomy.metrics)} metrics, {len(rules.metric_rules)} metric rules, "
        f"{len(rules.nonfigures.rules)} non-figure rules, {len(rules.units.units)} units ({rules.root})"
    )


@cli.command()
@click.argument("directory", type=click.Path(exists=True, path_type=Path, file_okay=False))
def report(directory: Path) -> None:
    """Write DIRECTORY/report.html (overview, charts, document list) and one page per document.

    Pages open from disk with no network: each document's text with every figure highlighted by
    metric family, a tooltip with its value, unit, metric, status and extractor, and the findings
    beside it. Also writes figures_corrected.csv/.parquet when there are corrections.

    Example:
        zongjie report out && xdg-open out/report.html
    """
    from extract.report import ReportError, build_report

    try:
        summary = build_report(directory, lambda done, total: click.echo(f"pages {done}/{total}", err=True))
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{summary.pages} pages, {summary.figures} figures ({summary.removed} old pages removed)", err=True)
    click.echo(str(summary.index))


@cli.command()
@click.argument("directory", type=click.Path(exists=True, path_type=Path, file_okay=False))
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (non-loopback only if given)."
)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port (0: any free one).")
@click.option("--reviewer", default=None, help="Name recorded with each correction (default: the login name).")
@click.option("--no-build", is_flag=True, help="Serve the pages as they are instead of rebuilding the report first.")
@click.pass_context
def review(ctx: click.Context, directory: Path, host: str, port: int, reviewer: str | None, no_build: bool) -> None:
    """Serve the report of DIRECTORY for review: confirm, correct, reject or add figures.

    Listens on 127.0.0.1 unless --host says otherwise. Writes need the token printed at start
    (open the printed link); corrections go to the store's corrections table. Ctrl-C stops.

    Example:
        zongjie review out --port 8765 --reviewer 王会计
    """
    from click.core import ParameterSource

    from extract.report.server import ReviewError, ReviewServer, serve_until_stopped

    explicit = ctx.get_parameter_source("host") == ParameterSource.COMMANDLINE
    try:
        server = ReviewServer(directory, host, port, allow_remote=explicit, reviewer=reviewer, build=not no_build)
    except (ReviewError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"reviewing {directory} at {server.url}", err=True)
    click.echo(f"token: {server.token}", err=True)
    click.echo(f"open: {server.login_url}")
    serve_until_stopped(server)


@cli.command("export-gold")
@click.argument("directory", type=click.Path(exists=True, path_type=Path, file_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the gold files (default: DIRECTORY/gold).",
)
@click.option("--all", "all_documents", is_flag=True, help="Every document, not only those a reviewer touched.")
def export_gold_cmd(directory: Path, out_dir: Path | None, all_documents: bool) -> None:
    """Write reviewed figures (corrections applied) as gold JSONL, one <file stem>.gold.jsonl per input file.

    Also writes DIRECTORY/figures_corrected.csv/.parquet; figures.csv stays as extracted.

    Example:
        zongjie export-gold out --out corpus/reviewed
    """
    from extract.report import export_gold
    from extract.store import StoreError

    try:
        written = export_gold(directory, out_dir, all_documents=all_documents)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in written:
        click.echo(str(path))
    if not written:
        click.echo("no reviewed documents yet (use --all for every document)", err=True)


@cli.command()
@click.option(
    "--gold",
    "gold_roots",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="A folder searched for *.gold.jsonl beside their .txt (folders named heldout are skipped), "
    "or one gold file; repeatable.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the trained model.",
)
@click.option("--seed", default=0, show_default=True, help="Random seed: the same gold and seed give the same model.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Training epochs (default: the tuned value).")
@click.option(
    "--folds",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Folds for the out-of-fold measurement that sets the hybrid's thresholds (0: skip it).",
)
def train(gold_roots: tuple[Path, ...], out_dir: Path, seed: int, epochs: int | None, folds: int) -> None:
    """Train the figure model (metric and status classifiers) on gold annotations; print a JSON summary.

    Example:
        zongjie train --gold corpus/ --out model/
        zongjie extract corpus/ --out out --extractor hybrid --model model/
    """
    import json
    from dataclasses import replace

    from extract.model.train import TrainSettings, train_model

    settings = replace(TrainSettings(), seed=seed)
    if epochs is not None:
        settings = replace(settings, epochs=epochs)
    try:
        summary = train_model(gold_roots, out_dir, settings=settings, folds=folds)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    shown = {k: summary[k] for k in ("out", "examples", "unaligned", "seconds", "policy")}
    if "out_of_fold" in summary:
        shown["out_of_fold"] = {k: summary["out_of_fold"][k] for k in ("rules", "hybrid", "model")}
    click.echo(json.dumps(shown, ensure_ascii=False, indent=2))


def main() -> None:
    cli(prog_name="zongjie")


if __name__ == "__main__":
    main()
