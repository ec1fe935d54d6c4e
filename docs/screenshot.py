"""Take docs/report.png: a document page of a built report in headless Chromium, one finding's
figures' tooltip open (``make report-screenshot`` builds the report first).

Usage: python docs/screenshot.py REPORT_DIR OUT.png
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from extract.report.data import page_name
from extract.store import Store


def pick_document(directory: Path) -> tuple[str, str]:
    """A short document with an error finding and several figures: it shows every part of a page."""
    with Store(directory, read_only=True) as store:
        row = store.con.execute(
            """SELECT d.doc_id, d.sha256 FROM documents d JOIN findings f ON f.doc_id = d.doc_id
               JOIN figures g ON g.doc_id = d.doc_id AND g.sha256 = d.sha256
               WHERE d.chars BETWEEN 300 AND 1400
               GROUP BY d.doc_id, d.sha256
               ORDER BY max(CASE f.severity WHEN 'error' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END) DESC,
                        count(DISTINCT g.figure_id) DESC, d.doc_id LIMIT 1"""
        ).fetchall()
    return row[0][0], row[0][1]


def main(directory: Path, out: Path) -> None:
    doc_id, sha = pick_document(directory)
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=1400,1100",
        f"--user-data-dir={tempfile.mkdtemp()}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get((directory / "report" / "docs" / page_name(doc_id, sha)).as_uri())
        fid = driver.find_element(By.CSS_SELECTOR, "#zj-findings li.finding a.fig-link").get_attribute("data-fid")
        driver.execute_script("window.scrollTo(0, 0)")
        mark = driver.find_element(By.CSS_SELECTOR, f'mark[data-fids~="{fid}"]')
        ActionChains(driver).move_to_element(mark).perform()
        time.sleep(0.5)
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()
    print(f"{out}: {doc_id}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
