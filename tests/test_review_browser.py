"""The report and the review server in a real browser: Debian's headless Chromium driven by Selenium
through Debian's chromedriver (``make test`` installs both with apt-get when missing; nothing is
downloaded at test time). Under CI a missing browser fails these tests instead of skipping them."""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extract.report import build_report, export_gold
from extract.report.corrections import read_corrections
from extract.report.data import page_name
from extract.report.server import ReviewServer
from extract.store import Store
from tests.report_store import FAILING_DOC, figures_of, fresh_copy

CHROMIUM = os.environ.get("ZONGJIE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ZONGJIE_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
WAIT = 20


def _unavailable() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: `make test` installs Debian's {package} with apt-get (needs root or sudo)"
    return None


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    reason = _unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests must run under CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    previous = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a browser or driver
    profile = tempfile.mkdtemp(prefix="zongjie-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()
        if previous is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = previous


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = fresh_copy(tmp_path_factory, "browser-built")
    build_report(out)
    return out


def _wait(driver: Any, condition: Any, message: str = "") -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(condition, message)


def _ready(driver: Any) -> None:
    _wait(driver, lambda d: d.execute_script("return document.body && document.body.dataset.ready === '1'"), "ready")


def _doc(out: Path, doc_id: str) -> dict[str, Any]:
    with Store(out, read_only=True) as store:
        cur = store.con.execute(
            "SELECT d.*, t.text AS full_text FROM documents d JOIN texts t USING (sha256) WHERE doc_id = ?", [doc_id]
        )
        names = [c[0] for c in cur.description]
        return dict(zip(names, cur.fetchall()[0], strict=True))


def _shown(v: float | None) -> str:
    return "" if v is None else (str(int(v)) if float(v).is_integer() else str(v))


def _mark(driver: Any, fid: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'mark[data-fids~="{fid}"]')


def test_figure_is_highlighted_with_its_tooltip(driver: Any, built: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    doc = _doc(built, FAILING_DOC)
    driver.get((built / "report" / "docs" / page_name(FAILING_DOC, doc["sha256"])).as_uri())
    _ready(driver)
    for fig in figures_of(built, FAILING_DOC):
        mark = _mark(driver, fig["figure_id"])
        assert mark.text == fig["surface"] == doc["full_text"][fig["start"] : fig["end"]]
        assert mark.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "transparent")
        ActionChains(driver).move_to_element(mark).perform()
        tip = driver.find_element(By.ID, "zj-tip")
        _wait(driver, lambda d, tip=tip: tip.is_displayed(), "tooltip shown")
        text = tip.find_element(By.CSS_SELECTOR, f'.tip-fig[data-fid="{fig["figure_id"]}"]').text
        for expected in (
            fig["surface"],
            _shown(fig["value"]),
            fig["unit"],
            fig["metric"],
            fig["status"],
            fig["extractor"],
            str(fig["confidence"]),
            fig["qualifier"] or "",
        ):
            assert expected in text, (expected, text)
        ActionChains(driver).move_by_offset(0, 300).perform()


def test_a_finding_links_to_its_figures(driver: Any, built: Path) -> None:
    from selenium.webdriver.common.by import By

    doc = _doc(built, FAILING_DOC)
    driver.get((built / "report" / "docs" / page_name(FAILING_DOC, doc["sha256"])).as_uri())
    _ready(driver)
    finding = driver.find_element(By.CSS_SELECTOR, "#zj-findings li.finding.sev-error")
    fids = finding.get_attribute("data-fids").split()
    surfaces = {f["figure_id"]: f["surface"] for f in figures_of(built, FAILING_DOC)}
    assert set(fids) <= set(surfaces)
    link = finding.find_element(By.CSS_SELECTOR, "a.fig-link")
    target = link.get_attribute("data-fid")
    assert link.text == surfaces[target]
    link.click()
    _wait(driver, lambda d: "linked" in _mark(d, target).get_attribute("class"), "linked figure")
    panel = driver.find_element(By.ID, "zj-panel")
    assert panel.is_displayed()
    assert panel.find_element(By.CSS_SELECTOR, ".fig-detail").get_attribute("data-fid") == target
    assert driver.execute_script("return location.hash") == f"#fig-{target}"
    finding.find_element(By.CSS_SELECTOR, ".finding-head").click()
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "mark.linked")) >= 1, "all linked")
    linked = {
        fid
        for m in driver.find_elements(By.CSS_SELECTOR, "mark.linked")
        for fid in m.get_attribute("data-fids").split()
    }
    assert set(fids) <= linked


def test_filters_and_overview(driver: Any, built: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    doc = _doc(built, FAILING_DOC)
    driver.get((built / "report" / "docs" / page_name(FAILING_DOC, doc["sha256"])).as_uri())
    _ready(driver)
    figs = figures_of(built, FAILING_DOC)
    keep = figs[0]["metric"]
    Select(driver.find_element(By.ID, "zj-metric")).select_by_value(keep)
    for fig in figs:
        off = "off" in _mark(driver, fig["figure_id"]).get_attribute("class")
        assert off == (fig["metric"] != keep)

    driver.get((built / "report.html").as_uri())
    _ready(driver)
    assert "zongjie" in driver.title
    rows = driver.find_elements(By.CSS_SELECTOR, "#docs-table tbody tr")
    assert len(rows) == _count(built, "documents")
    assert driver.find_elements(By.CSS_SELECTOR, "#chart svg circle"), "the metric chart is drawn"
    box = driver.find_element(By.ID, "docs-q")
    box.send_keys(FAILING_DOC)
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#docs-table tbody tr")) == 1, "search")
    driver.find_element(By.CSS_SELECTOR, "#docs-table tbody tr a").click()
    _wait(driver, lambda d: "/report/docs/" in d.current_url, "document page opened")
    _ready(driver)
    assert driver.find_element(By.ID, "zj-text").text.strip()


def _count(out: Path, table: str) -> int:
    with Store(out, read_only=True) as store:
        return store.count(table)


_SELECT = """
const [start, end] = arguments;
const root = document.getElementById('zj-text');
const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
let node, seen = 0, a = null, b = null;
while ((node = walker.nextNode())) {
  const chars = Array.from(node.data);
  for (let i = 0; i <= chars.length; i++) {
    const unit = chars.slice(0, i).join('').length;
    if (a === null && seen + i === start && i < chars.length) a = [node, unit];
    if (b === null && seen + i === end && i > 0) b = [node, unit];
  }
  seen += chars.length;
}
const range = document.createRange();
range.setStart(a[0], a[1]);
range.setEnd(b[0], b[1]);
const sel = window.getSelection();
sel.removeAllRanges();
sel.addRange(range);
root.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
return sel.toString();
"""


def _missed_span(doc: dict[str, Any], figs: list[dict[str, Any]]) -> tuple[int, int]:
    """A run of digits in the document that no figure covers (offsets into the file's text)."""
    part = doc["full_text"][doc["start"] : doc["end"]]
    for m in re.finditer(r"[0-9]+", part):
        s, e = m.start() + doc["start"], m.end() + doc["start"]
        if all(e <= f["start"] or s >= f["end"] for f in figs):
            return s, e
    raise AssertionError("no uncovered number in the document")


@pytest.fixture
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewServer]:
    out = fresh_copy(tmp_path_factory, "browser-review")
    srv = ReviewServer(out, "127.0.0.1", 0, reviewer="browser-test")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    thread.join(10)
    srv.close()


def test_corrections_through_the_page_reach_the_store_and_the_gold(driver: Any, served: ReviewServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    out = served.directory
    doc = _doc(out, FAILING_DOC)
    figs = figures_of(out, FAILING_DOC)
    fixed, dropped = figs[0], figs[1]
    page_url = served.url.replace("report.html", f"report/docs/{page_name(FAILING_DOC, doc['sha256'])}")

    driver.get(served.login_url)  # the printed link: the token travels in the fragment
    _ready(driver)
    assert driver.execute_script("return localStorage.getItem('zongjie-token')") == served.token
    assert "token" not in driver.current_url

    def open_page() -> None:
        driver.get(page_url)
        _ready(driver)
        _wait(driver, lambda d: d.execute_script("return document.body.dataset.review") == "1", "review mode")

    def form_of(fid: str) -> Any:
        _mark(driver, fid).click()
        return driver.find_element(By.CSS_SELECTOR, f'#zj-panel form.review-form[data-fid="{fid}"]')

    def reloaded(old: Any) -> None:
        from selenium.webdriver.support import expected_conditions as ec

        _wait(driver, ec.staleness_of(old), "page reloaded")
        _ready(driver)
        _wait(driver, lambda d: d.execute_script("return document.body.dataset.review") == "1", "review mode")

    # correct a figure: value and status
    open_page()
    form = form_of(fixed["figure_id"])
    value = form.find_element(By.NAME, "value")
    value.clear()
    value.send_keys("4321")
    Select(form.find_element(By.NAME, "status")).select_by_value("plan")
    form.find_element(By.CSS_SELECTOR, 'button[data-action="correct"]').click()
    reloaded(form)
    assert "rv-correct" in _mark(driver, fixed["figure_id"]).get_attribute("class")

    # reject another
    form = form_of(dropped["figure_id"])
    form.find_element(By.CSS_SELECTOR, 'button[data-action="reject"]').click()
    reloaded(form)
    assert "rv-reject" in _mark(driver, dropped["figure_id"]).get_attribute("class")

    # add a missed one by selecting its text
    start, end = _missed_span(doc, figs)
    missed = doc["full_text"][start:end]
    selected = driver.execute_script(_SELECT, start - doc["start"], end - doc["start"])
    assert selected == missed
    add = driver.find_element(By.CSS_SELECTOR, "#zj-review .add-form")
    Select(add.find_element(By.NAME, "metric")).select_by_value("other")
    add_value = add.find_element(By.NAME, "value")
    _wait(driver, lambda d: add_value.get_attribute("value") != "", "value suggested from the selection")
    assert add_value.get_attribute("value") == missed
    add.find_element(By.CSS_SELECTOR, 'button[data-action="add"]').click()
    reloaded(add)
    added = driver.find_elements(By.CSS_SELECTOR, "mark.rv-add")
    assert [m.text for m in added] == [missed]

    # in the store: who, what, old and new
    with Store(out, read_only=True) as store:
        corrections = read_corrections(store.con)
    assert [c.action for c in corrections] == ["correct", "reject", "add"]
    first = corrections[0]
    assert first.reviewer == "browser-test" and first.figure_id == fixed["figure_id"]
    assert first.old is not None and float(first.old.value or 0) == fixed["value"] and first.old.status == "actual"
    assert first.new is not None and first.new.given() == {"value": 4321, "status": "plan"}
    assert (corrections[2].start, corrections[2].end, corrections[2].surface) == (start, end, missed)

    # and in the exported gold
    written = export_gold(out)
    lines = [json.loads(x) for p in written for x in p.read_text(encoding="utf-8").splitlines()]
    mine = [x for x in lines if x["doc"] == FAILING_DOC]
    assert len(mine) == len(figs) - 1 + 1
    assert {
        "doc": FAILING_DOC,
        "surface": fixed["surface"],
        "value": 4321,
        "unit": fixed["unit"],
        "metric": fixed["metric"],
        "status": "plan",
    }.items() <= next(x for x in mine if x["surface"] == fixed["surface"] and x["value"] == 4321).items()
    assert any(x["surface"] == missed and x["metric"] == "other" for x in mine)
    assert (
        sum(x["surface"] == dropped["surface"] for x in mine)
        == sum(f["surface"] == dropped["surface"] for f in figs) - 1
    )
