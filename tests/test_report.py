"""The report pages, the corrections table, export-gold, and the review server's guards (no browser)."""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from extract.cli import cli
from extract.report import build_report
from extract.report import data as report_data
from extract.report.corrections import apply_corrections, new_correction, read_corrections, write_corrections
from extract.report.data import page_name
from extract.report.server import ReviewError, ReviewServer, check_token, is_loopback, resolve_path
from extract.store import Store
from schemas.corrections import FigureValues
from tests.report_store import FAILING_DOC, extracted_store, figures_of, fresh_copy

# ----------------------------------------------------------------------------------------------
# pages


class _TextMarks(HTMLParser):
    """The text inside #zj-text and the marks in it: (start, end, fids) in characters of that text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.text: list[str] = []
        self.marks: list[tuple[int, int, list[str]]] = []
        self._open: tuple[int, list[str]] | None = None

    @property
    def length(self) -> int:
        return sum(len(t) for t in self.text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "div" and a.get("id") == "zj-text":
            self.depth = 1
        elif self.depth and tag == "mark":
            self._open = (self.length, str(a.get("data-fids")).split())

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == "mark" and self._open:
            self.marks.append((self._open[0], self.length, self._open[1]))
            self._open = None
        elif self.depth and tag == "div":
            self.depth = 0

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = fresh_copy(tmp_path_factory, "built")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report_data, "STREAM_BATCH", 7)  # many fetches, with texts read between them
        build_report(out)
    yield out


def _documents(out: Path) -> list[dict]:
    with Store(out, read_only=True) as store:
        cur = store.con.execute("SELECT d.*, t.text AS full_text FROM documents d JOIN texts t USING (sha256)")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_every_figure_is_highlighted_at_its_exact_span(built: Path) -> None:
    docs = _documents(built)
    assert any(d["start"] > 0 for d in docs), "the compilation's later parts start past offset 0"
    checked = 0
    for doc in docs:
        page = built / "report" / "docs" / page_name(doc["doc_id"], doc["sha256"])
        parser = _TextMarks()
        parser.feed(page.read_text(encoding="utf-8"))
        shown = "".join(parser.text)
        assert shown == doc["full_text"][doc["start"] : doc["end"]], doc["doc_id"]
        covered: dict[str, list[tuple[int, int]]] = {}
        for start, end, fids in parser.marks:
            for fid in fids:
                covered.setdefault(fid, []).append((start, end))
        for fig in figures_of(built, doc["doc_id"]):
            if fig["sha256"] != doc["sha256"]:
                continue
            spans = sorted(covered[fig["figure_id"]])
            start, end = spans[0][0] + doc["start"], spans[-1][1] + doc["start"]
            assert (start, end) == (fig["start"], fig["end"])
            assert doc["full_text"][start:end] == fig["surface"]
            checked += 1
    assert checked > 20


def test_findings_link_to_figures_on_the_page(built: Path) -> None:
    doc = next(d for d in _documents(built) if d["doc_id"] == FAILING_DOC)
    html = (built / "report" / "docs" / page_name(doc["doc_id"], doc["sha256"])).read_text(encoding="utf-8")
    findings = re.findall(r'<li class="finding sev-(\w+)" id="finding-\w+" data-fids="([^"]+)"', html)
    assert findings, "the failing document shows its finding"
    for _, fids in findings:
        for fid in fids.split():
            assert f'href="#fig-{fid}"' in html
            assert re.search(rf'<mark [^>]*data-fids="[^"]*\b{fid}\b', html)


def test_report_is_self_contained(built: Path) -> None:
    index = (built / "report.html").read_text(encoding="utf-8")
    assert "<style>" in index and "zj-overview" in index
    pages = [
        built / "report.html",
        *(built / "report" / "docs").glob("*.html"),
        *(built / "report" / "assets").iterdir(),
    ]
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text), path.name
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", text), path.name
        assert "@import" not in text


def test_report_command_and_stale_pages(built: Path) -> None:
    stale = built / "report" / "docs" / "gone-00000000.html"
    stale.write_text("old", encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(built)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("report.html")
    assert not stale.exists()


def test_report_without_a_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code != 0 and "no store" in result.output


# ----------------------------------------------------------------------------------------------
# corrections and gold


def _correct(out: Path, fig: dict, action: str, new: dict | None = None, **extra: object) -> None:
    with Store(out) as store:
        write_corrections(
            store,
            [
                new_correction(
                    reviewer="tester",
                    action=action,
                    figure_id=fig["figure_id"],
                    doc_id=fig["doc_id"],
                    sha256=fig["sha256"],
                    start=fig["start"],
                    end=fig["end"],
                    surface=fig["surface"],
                    new=FigureValues.model_validate(new) if new else None,
                    **extra,
                )
            ],
        )


def test_corrections_apply_on_export_and_gold(tmp_path_factory: pytest.TempPathFactory) -> None:
    out = fresh_copy(tmp_path_factory, "gold")
    figs = [f for f in figures_of(out, FAILING_DOC) if f["value"] is not None]
    fixed, dropped, confirmed = figs[0], figs[1], figs[2]
    _correct(out, fixed, "correct", {"value": "999", "status": "plan"})
    _correct(out, dropped, "reject")
    _correct(out, confirmed, "confirm")
    added = {**confirmed, "figure_id": "added0000000001", "start": confirmed["start"], "end": confirmed["end"]}
    _correct(out, added, "add", {"value": 7, "unit": "", "metric": "other", "status": "actual"})

    result = CliRunner().invoke(cli, ["export-gold", str(out)])
    assert result.exit_code == 0, result.output
    gold_file = out / "gold" / f"{FAILING_DOC.split('#')[0]}.gold.jsonl"
    assert result.stdout.split() == [str(gold_file)]
    lines = [json.loads(x) for x in gold_file.read_text(encoding="utf-8").splitlines()]
    assert {line["doc"] for line in lines} == {FAILING_DOC}
    assert all(set(line) >= {"doc", "surface", "value", "unit", "metric", "status"} for line in lines)
    by_surface = [(line["surface"], line["value"], line["status"]) for line in lines]
    assert (fixed["surface"], 999, "plan") in by_surface
    assert (confirmed["surface"], 7, "actual") in by_surface  # the added figure on the same span
    assert len(lines) == len(figures_of(out, FAILING_DOC)) - 1 + 1  # one rejected, one added

    corrected = pd.read_csv(out / "figures_corrected.csv", encoding="utf-8-sig")
    raw = pd.read_csv(out / "figures.csv", encoding="utf-8-sig")
    assert dropped["figure_id"] not in set(corrected["figure_id"])
    assert dropped["figure_id"] in set(raw["figure_id"])
    row = corrected[corrected["figure_id"] == fixed["figure_id"]].iloc[0]
    assert (row["value"], row["status"], row["review"], row["reviewer"]) == (999, "plan", "correct", "tester")
    assert raw[raw["figure_id"] == fixed["figure_id"]].iloc[0]["value"] == fixed["value"]

    with Store(out, read_only=True) as store:
        stored = read_corrections(store.con)
    assert [c.action for c in stored] == ["correct", "reject", "confirm", "add"]
    assert [c.seq for c in stored] == [1, 2, 3, 4]


def test_last_word_wins_and_ids_survive_reextraction(tmp_path_factory: pytest.TempPathFactory) -> None:
    out = fresh_copy(tmp_path_factory, "replay")
    fig = figures_of(out, FAILING_DOC)[0]
    _correct(out, fig, "reject")
    _correct(out, fig, "confirm")
    with Store(out, read_only=True) as store:
        corrections = read_corrections(store.con)
    # the same figure re-extracted under another id is still found by its span
    moved = {**fig, "figure_id": "0000000000000000"}
    applied = apply_corrections([moved], corrections)
    assert applied.rows[0]["review"] == "confirm" and not applied.orphans
    gone = apply_corrections([], corrections)
    assert len(gone.orphans) == 2


def test_corrections_survive_rebuild(tmp_path_factory: pytest.TempPathFactory) -> None:
    out = fresh_copy(tmp_path_factory, "rebuild")
    fig = figures_of(out, FAILING_DOC)[0]
    _correct(out, fig, "confirm")
    with Store(out) as store:
        store.rebuild()
        assert store.count("corrections") == 1
        assert store.count("figures") == 0


def test_texts_are_stored_but_not_exported(built: Path) -> None:
    assert not (built / "texts.csv").exists() and not (built / "texts.parquet").exists()
    with Store(built, read_only=True) as store:
        assert store.count("texts") == store.scalar("SELECT count(DISTINCT sha256) FROM documents")


# ----------------------------------------------------------------------------------------------
# the review server's guards


def test_token_check() -> None:
    assert check_token("s3cret", "s3cret")
    assert not check_token("s3cret", None) and not check_token("s3cret", "") and not check_token("s3cret", "S3cret")
    assert not check_token("", "")


def test_loopback_only_unless_allowed(tmp_path_factory: pytest.TempPathFactory) -> None:
    out = extracted_store(tmp_path_factory)
    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    for host in ("0.0.0.0", "192.168.1.5", "::"):
        with pytest.raises(ReviewError, match="loopback"):
            ReviewServer(out, host, 0, build=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewServer]:
    out = fresh_copy(tmp_path_factory, "served")
    (out / "secret.txt").write_text("inside DIR but not the report", encoding="utf-8")
    outside = tmp_path_factory.mktemp("outside") / "outside.txt"
    outside.write_text("outside", encoding="utf-8")
    (out / "report").mkdir(exist_ok=True)
    os.symlink(outside, out / "report" / "link.txt")
    srv = ReviewServer(out, "127.0.0.1", 0, token="tok-123", reviewer="tester")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.close()


def _request(
    srv: ReviewServer, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    data = None if body is None else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=data, headers=hdrs)  # the path goes out as written: no normalising
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_server_binds_loopback(server: ReviewServer) -> None:
    assert server.host == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")
    assert server.login_url.endswith("#token=tok-123")


@pytest.mark.parametrize(
    "path",
    [
        "/../zongjie.duckdb",
        "/report/../zongjie.duckdb",
        "/report/%2e%2e/zongjie.duckdb",
        "/report/..%2fzongjie.duckdb",
        "/report/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/report/docs/../../../../../../etc/passwd",
        "//etc/passwd",
        "/etc/passwd",
        "/secret.txt",
        "/zongjie.duckdb",
        "/figures.csv",
        "/report/link.txt",
        "/report/%00.html",
        "/report\\..\\zongjie.duckdb",
    ],
)
def test_nothing_outside_the_report_is_served(server: ReviewServer, path: str) -> None:
    status, body = _request(server, "GET", path)
    assert status == 404, (path, body[:80])
    assert b"outside" not in body and b"SQLite" not in body


def test_report_files_are_served(server: ReviewServer) -> None:
    assert _request(server, "GET", "/report.html")[0] == 200
    assert _request(server, "GET", "/report/assets/report.js")[0] == 200
    status, _ = _request(server, "GET", "/")
    assert status == 302
    assert resolve_path(server.directory, "/report/assets/report.css") is not None


def _item(srv: ReviewServer, action: str = "confirm") -> dict:
    fig = figures_of(srv.directory, FAILING_DOC)[0]
    return {"action": action, "figure_id": fig["figure_id"], "sha256": fig["sha256"], "doc_id": FAILING_DOC}


def test_writes_need_the_token(server: ReviewServer) -> None:
    body = {"items": [_item(server)]}
    assert _request(server, "POST", "/api/corrections", body)[0] == 403
    assert _request(server, "POST", "/api/corrections", body, {"X-Zongjie-Token": "wrong"})[0] == 403
    assert _request(server, "POST", "/api/corrections", body, {"X-Zongjie-Token": ""})[0] == 403
    status, answer = _request(server, "POST", "/api/corrections", body, {"X-Zongjie-Token": "tok-123"})
    assert status == 200, answer
    assert json.loads(answer)["corrections"][0]["action"] == "confirm"


def test_foreign_host_and_origin_are_refused(server: ReviewServer) -> None:
    token = {"X-Zongjie-Token": "tok-123"}
    assert _request(server, "GET", "/report.html", headers={"Host": f"evil.example:{server.port}"})[0] == 403
    body = {"items": [_item(server)]}
    assert _request(server, "POST", "/api/corrections", body, {**token, "Origin": "http://evil.example"})[0] == 403
    ok = {**token, "Origin": f"http://127.0.0.1:{server.port}"}
    assert _request(server, "POST", "/api/corrections", body, ok)[0] == 200


def test_bad_requests(server: ReviewServer) -> None:
    token = {"X-Zongjie-Token": "tok-123"}
    assert _request(server, "POST", "/api/corrections", {"items": []}, token)[0] == 400
    assert (
        _request(server, "POST", "/api/corrections", {"items": [{**_item(server), "figure_id": "nope"}]}, token)[0]
        == 404
    )
    bad_metric = {**_item(server, "correct"), "new": {"metric": "no.such_metric"}}
    assert _request(server, "POST", "/api/corrections", {"items": [bad_metric]}, token)[0] == 400
    fig = figures_of(server.directory, FAILING_DOC)[0]
    add = {**_item(server, "add"), "start": fig["start"], "end": fig["end"], "surface": "not the text"}
    add["new"] = {"metric": "other", "status": "actual", "value": 1}
    assert _request(server, "POST", "/api/corrections", {"items": [add]}, token)[0] == 409
    far = {**add, "start": 10**7, "end": 10**7 + 2, "surface": None}
    assert _request(server, "POST", "/api/corrections", {"items": [far]}, token)[0] == 400
