"""The ``zongjie`` command: a thin layer over the library functions."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from extract.pipeline import DocumentResult, Pipeline, iter_results, raw_from_text
from extract.tables import (
    DOCUMENT_COLUMNS,
    REJECTED_COLUMNS,
    document_row,
    errors_frame,
    figures_frame,
    frame,
    rejected_row,
    write_table,
)
from schemas.documents import ErrorRow


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="zongjie")
def cli(verbose: int) -> None:
    """zongjie (总结): reported figures from Chinese union summaries, as traceable tables."""
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the output tables.")
def extract(inputs: tuple[Path, ...], out_dir: Path) -> None:
    """Read INPUTS (files and folders, any mix) and write the tables to --out.

    Example:
        zongjie extract corpus/ --out out
    """
    pipeline = Pipeline()
    documents, figures, rejected, errors = [], [], [], []
    for item in iter_results(inputs, pipeline):
        if isinstance(item, ErrorRow):
            errors.append(item)
        elif isinstance(item, DocumentResult):
            documents.append(document_row(item.document))
            figures.extend(item.figures)
            rejected.extend(rejected_row(r) for r in item.rejected)
    write_table(frame(documents, DOCUMENT_COLUMNS), out_dir, "documents")
    write_table(figures_frame(figures), out_dir, "figures")
    write_table(frame(rejected, REJECTED_COLUMNS), out_dir, "rejected")
    write_table(errors_frame(errors), out_dir, "errors")
    click.echo(f"{len(documents)} documents, {len(figures)} figures, {len(rejected)} rejected, "
               f"{len(errors)} errors → {out_dir}", err=True)


@cli.command()
@click.argument("text")
def explain(text: str) -> None:
    """Show each candidate number in TEXT, the rules that fired, and why it was kept or rejected.

    Example:
        zongjie explain "签订工资专项集体合同31份，覆盖职工3697人"
    """
    pipeline = Pipeline()
    for doc, extraction in pipeline.explain(raw_from_text(text, "explain")):
        click.echo(f"# {doc.meta.doc_id} ({doc.meta.doc_type})")
        for d in extraction.decisions:
            mark = "KEEP" if d.kept else "SKIP"
            click.echo(f"{mark} {d.surface!r} [{d.start}:{d.end}] {d.reason}")
            for m in d.metric_matches[:5]:
                click.echo(f"     rule {m.rule_id} → {m.metric} cue {m.cue!r} distance {m.distance} score {m.score:.1f}")
            if d.status_cue:
                click.echo(f"     status cue {d.status_cue!r}")


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

    gold_rows = read_gold(gold)
    pred_rows = read_predictions(predictions)
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
@click.option("--rules", "rules_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A rules folder to check instead of the packaged one.")
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
    click.echo(f"rules OK: {len(rules.taxonomy.metrics)} metrics, {len(rules.metric_rules)} metric rules, "
               f"{len(rules.nonfigures.rules)} non-figure rules, {len(rules.units.units)} units ({rules.root})")


def main() -> None:
    cli(prog_name="zongjie")


if __name__ == "__main__":
    main()
