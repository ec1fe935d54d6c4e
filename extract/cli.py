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


def main() -> None:
    cli(prog_name="zongjie")


if __name__ == "__main__":
    main()
