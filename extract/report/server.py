"""``zongjie review DIR``: the report's pages served on 127.0.0.1, with corrections written to the store.

Standard library only (``http.server``): one reviewer at a time needs no framework. Security:

* it binds to a loopback address unless the caller explicitly allows another (``--host``);
* every writing request must carry the per-run token (``X-Zongjie-Token``), compared in constant
  time; a request without it gets 403. The token is printed at start, in the URL to open
  (``#token=…``: the fragment never reaches a server log), and pages keep it in the browser's
  local storage;
* the ``Host`` header must name the server itself (a page from another site cannot reach it by
  rebinding a domain name to 127.0.0.1), and a write with a foreign ``Origin`` is refused;
* it serves ``DIR/report.html`` and files under ``DIR/report/`` only, after resolving the path,
  so ``..``, encoded ``..``, absolute paths and symbolic links out of ``DIR`` give 404.

The store is opened for each write and closed after it, so ``zongjie extract`` can run between
reviews; a write while another process holds the store answers 503.
"""

from __future__ import annotations

import getpass
import hmac
import ipaddress
import json
import logging
import secrets
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from extract.report.corrections import (
    apply_corrections,
    figure_id,
    figure_rows,
    new_correction,
    read_corrections,
    values_of,
    write_corrections,
)
from extract.report.data import metric_info
from extract.report.pages import REPORT_DIR, REPORT_FILE, build_report, open_store, rebuild_document, write_index
from extract.store import Store, StoreBusy, StoreError
from schemas.corrections import CORRECTABLE, Correction, FigureValues

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
MAX_ITEMS = 5000
TOKEN_HEADER = "X-Zongjie-Token"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


class ReviewError(Exception):
    """The review server cannot start (a non-loopback address not explicitly allowed, no store)."""


class RequestError(Exception):
    """A request the server refuses, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and ``localhost`` are loopback; anything else is not.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_token(expected: str, given: str | None) -> bool:
    """The request's token equals the run's (constant-time); a missing or empty one never does.

    >>> check_token("abc", "abc"), check_token("abc", None), check_token("abc", ""), check_token("abc", "abd")
    (True, False, False, False)
    """
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def resolve_path(root: Path, url_path: str) -> Path | None:
    """The file under ``root`` a URL path names, or None when it is not one the server may serve:
    only ``report.html`` and files below ``report/``, never outside ``root`` (after symlinks).

    >>> import tempfile; r = Path(tempfile.mkdtemp()); (r / "report").mkdir(); _ = (r / "report.html").write_text("x")
    >>> resolve_path(r, "/report.html") == (r / "report.html").resolve(), resolve_path(r, "/../etc/passwd")
    (True, None)
    >>> resolve_path(r, "/report/%2e%2e/%2e%2e/etc/passwd"), resolve_path(r, "/zongjie.duckdb")
    (None, None)
    """
    path = urllib.parse.unquote(urllib.parse.urlsplit(url_path).path)
    if "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    if parts != [REPORT_FILE] and parts[0] != REPORT_DIR:
        return None
    base = root.resolve()
    try:
        target = base.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    allowed = (base / REPORT_FILE, base / REPORT_DIR)
    if not (target == allowed[0] or target.is_relative_to(allowed[1])) or not target.is_file():
        return None
    return target


@dataclass
class ReviewState:
    """What the handler threads share."""

    directory: Path
    token: str
    reviewer: str
    hosts: frozenset[str]  # accepted Host headers; empty: any (an explicitly allowed remote bind)
    lock: threading.Lock = field(default_factory=threading.Lock)
    index_dirty: bool = False
    corrections_written: int = 0
    _finder: Any = None

    def finder(self) -> Any:
        if self._finder is None:
            from extract.figures.candidates import CandidateFinder
            from extract.rules import load_rules

            self._finder = CandidateFinder(load_rules().units)
        return self._finder


class ReviewHandler(BaseHTTPRequestHandler):
    server_version = "zongjie-review"
    sys_version = ""
    state: ReviewState  # set on the subclass made per server

    # -- plumbing ------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, payload: Mapping[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False, default=_jsonable).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json(status, {"error": message})

    def _host_ok(self) -> bool:
        hosts = self.state.hosts
        return not hosts or (self.headers.get("Host") or "").lower() in hosts

    # -- GET -----------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
            return
        split = urllib.parse.urlsplit(self.path)
        if split.path in ("/", "/index.html"):
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", "/" + REPORT_FILE)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if split.path == "/api/info":
            self._json(HTTPStatus.OK, {"review": True, "reviewer": self.state.reviewer})
            return
        if split.path == "/api/suggest":
            self._suggest(urllib.parse.parse_qs(split.query).get("text", [""])[0])
            return
        if split.path == "/" + REPORT_FILE and self.state.index_dirty:
            self._refresh_index()
        target = resolve_path(self.state.directory, self.path)
        if target is None:
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        body = target.read_bytes()
        self._send(HTTPStatus.OK, body, _TYPES.get(target.suffix, "application/octet-stream"))

    def _suggest(self, text: str) -> None:
        """Value, unit and range read from selected text, to fill the form for a missed figure."""
        found = self.state.finder()(text[:200]) if text else []
        if not found:
            self._json(HTTPStatus.OK, {"found": False})
            return
        c = found[0]
        self._json(
            HTTPStatus.OK,
            {"found": True, "value": c.value, "value_max": c.value_max, "unit": c.unit, "approx": c.approx},
        )

    def _refresh_index(self) -> None:
        with self.state.lock:
            if not self.state.index_dirty:
                return
            try:
                with open_store(self.state.directory) as store:
                    write_index(self.state.directory, store.con)
                self.state.index_dirty = False
            except StoreError as exc:  # the old overview is served meanwhile
                log.warning("could not refresh the overview: %s", exc)

    # -- POST ----------------------------------------------------------------------------------

    def do_POST(self) -> None:
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
            return
        origin = self.headers.get("Origin")
        if origin and self.state.hosts and urllib.parse.urlsplit(origin).netloc.lower() not in self.state.hosts:
            self._error(HTTPStatus.FORBIDDEN, "cross-origin write refused")
            return
        if not check_token(self.state.token, self.headers.get(TOKEN_HEADER)):
            self._error(HTTPStatus.FORBIDDEN, f"missing or wrong {TOKEN_HEADER}")
            return
        if urllib.parse.urlsplit(self.path).path != "/api/corrections":
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        try:
            payload = self._body()
            stored = self._write(payload)
        except RequestError as exc:
            self._error(exc.status, str(exc))
            return
        self._json(HTTPStatus.OK, {"ok": True, "corrections": [c.row() for c in stored]})

    def _body(self) -> dict[str, Any]:
        if "json" not in (self.headers.get("Content-Type") or ""):
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, "bad Content-Length") from exc
        if length <= 0 or length > MAX_BODY:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body must be 1..{MAX_BODY} bytes")
        try:
            payload = json.loads(self.rfile.read(length), parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "send a JSON object")
        return payload

    def _write(self, payload: dict[str, Any]) -> list[Correction]:
        items = payload.get("items")
        if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"'items' must be a list of 1..{MAX_ITEMS} corrections")
        reviewer = str(payload.get("reviewer") or "").strip()[:200] or self.state.reviewer
        with self.state.lock:
            try:
                with Store(self.state.directory) as store:
                    stored = write_items(store, items, reviewer)
                    for sha, doc_id in dict.fromkeys((c.sha256, c.doc_id) for c in stored):
                        rebuild_document(self.state.directory, store.con, sha, doc_id)
            except StoreBusy as exc:
                raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE, str(exc)) from exc
            self.state.index_dirty = True
            self.state.corrections_written += len(stored)
        return stored


def write_items(store: Store, items: list[Any], reviewer: str) -> list[Correction]:
    """Validate review requests against the store and write them as corrections (all or none)."""
    metrics = set(metric_info().names)
    made: list[Correction] = []
    current: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"item {n}: not an object")
        sha, doc_id = str(item.get("sha256") or ""), str(item.get("doc_id") or "")
        key = (sha, doc_id)
        if key not in current:
            doc = store.con.execute(
                'SELECT start, "end" FROM documents WHERE sha256 = ? AND doc_id = ?', [sha, doc_id]
            ).fetchall()
            if not doc:
                raise RequestError(HTTPStatus.NOT_FOUND, f"item {n}: no document {doc_id!r} with that sha256")
            rows = apply_corrections(
                figure_rows(store.con, sha256=sha, doc_id=doc_id),
                read_corrections(store.con, sha256=sha, doc_id=doc_id),
            ).rows
            current[key] = {"_span": {"start": doc[0][0], "end": doc[0][1]}, **{r["figure_id"]: r for r in rows}}
        try:
            made.append(_correction(store, item, reviewer, current[key], metrics))
        except ValidationError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"item {n}: {_errors(exc)}") from exc
        if made[-1].action == "add" or made[-1].figure_id in current[key]:
            c = made[-1]
            row = current[key].get(c.figure_id) or {"figure_id": c.figure_id, "raw": None}
            if c.new is not None:
                row = {**row, **c.new.given()}
            current[key][c.figure_id] = {
                **row,
                "start": c.start,
                "end": c.end,
                "surface": c.surface,
                "review": c.action,
            }
    return write_corrections(store, made)


def _correction(
    store: Store, item: dict[str, Any], reviewer: str, figures: dict[str, dict[str, Any]], metrics: set[str]
) -> Correction:
    action = item.get("action")
    sha, doc_id = str(item["sha256"]), str(item["doc_id"])
    note = item.get("note")
    new_data = item.get("new") if isinstance(item.get("new"), dict) else None
    ctx = {"metrics": metrics}
    if action == "add":
        try:
            start, end = int(item["start"]), int(item["end"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, "an added figure needs integer start and end") from exc
        span = figures["_span"]
        if not (span["start"] <= start < end <= span["end"]):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"[{start}:{end}] is outside the document's text")
        text = _text_slice(store, sha, start, end)
        if text is None or not text.strip():
            raise RequestError(HTTPStatus.BAD_REQUEST, "the selected text is empty or not stored")
        if item.get("surface") is not None and item["surface"] != text:
            raise RequestError(
                HTTPStatus.CONFLICT, f"the selection {item['surface']!r} is not the stored text {text!r}"
            )
        new = FigureValues.model_validate({k: v for k, v in (new_data or {}).items() if k in CORRECTABLE}, context=ctx)
        fid = figure_id(doc_id, start, end, str(new.metric))
        return new_correction(
            reviewer=reviewer,
            action="add",
            figure_id=fid,
            doc_id=doc_id,
            sha256=sha,
            start=start,
            end=end,
            surface=text,
            new=new,
            note=note,
        )
    if action not in ("confirm", "correct", "reject"):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"unknown action {action!r}")
    fid = str(item.get("figure_id") or "")
    row = figures.get(fid)
    if row is None or fid == "_span":
        raise RequestError(HTTPStatus.NOT_FOUND, f"no figure {fid!r} in document {doc_id!r}")
    old = values_of(row)
    new = None
    if action == "correct":
        wanted = FigureValues.model_validate(
            {k: v for k, v in (new_data or {}).items() if k in CORRECTABLE}, context=ctx
        )
        changed = {k: v for k, v in wanted.given().items() if old.given().get(k) != v and not _same(old, k, v)}
        if changed:
            new = FigureValues.model_validate(changed, context=ctx)
        else:
            action = "confirm"  # nothing differs: the reviewer says the figure is right
    return new_correction(
        reviewer=reviewer,
        action=action,
        figure_id=fid,
        doc_id=doc_id,
        sha256=sha,
        start=int(row["start"]),
        end=int(row["end"]),
        surface=str(row["surface"]),
        old=old,
        new=new,
        note=note,
    )


def _same(old: FigureValues, key: str, value: Any) -> bool:
    mine = getattr(old, key)
    if key in ("value", "value_max") and mine is not None and value is not None:
        return Decimal(str(mine)) == Decimal(str(value))
    if key in ("qualifier", "unit"):
        return (mine or "") == (value or "")
    return mine == value


def _text_slice(store: Store, sha256: str, start: int, end: int) -> str | None:
    rows = store.con.execute(
        "SELECT substr(text, ?, ?) FROM texts WHERE sha256 = ?", [start + 1, end - start, sha256]
    ).fetchall()
    return rows[0][0] if rows else None


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


class ReviewServer:
    """A running review server; ``serve_forever`` blocks, ``shutdown`` stops it from another thread."""

    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        allow_remote: bool = False,
        reviewer: str | None = None,
        token: str | None = None,
        build: bool = True,
    ) -> None:
        self.directory = Path(directory)
        if not is_loopback(host) and not allow_remote:
            raise ReviewError(
                f"refusing to listen on {host}: not a loopback address (pass --host explicitly to allow it)"
            )
        if not (self.directory / "zongjie.duckdb").exists():
            raise ReviewError(f"no store in {self.directory}: run `zongjie extract ... --out {self.directory}` first")
        if build or not (self.directory / REPORT_FILE).exists():
            build_report(self.directory)
        self.token = token or secrets.token_urlsafe(24)
        self.httpd = ThreadingHTTPServer((host, port), ReviewHandler, bind_and_activate=False)
        if ":" in host:
            import socket

            self.httpd.address_family = socket.AF_INET6
            self.httpd.socket = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.httpd.daemon_threads = True
        try:
            self.httpd.server_bind()
            self.httpd.server_activate()
        except OSError:
            self.httpd.server_close()
            raise
        self.host, self.port = self.httpd.server_address[0], self.httpd.server_address[1]
        hosts: frozenset[str] = frozenset()
        if is_loopback(host):
            names = {host, "127.0.0.1", "localhost", "[::1]"} if host != "::1" else {"[::1]", "localhost"}
            hosts = frozenset(f"{h}:{self.port}".lower() for h in names)
        handler = type("BoundReviewHandler", (ReviewHandler,), {})
        handler.state = ReviewState(self.directory, self.token, reviewer or _user(), hosts)
        self.state: ReviewState = handler.state
        self.httpd.RequestHandlerClass = handler

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"http://{host}:{self.port}/{REPORT_FILE}"

    @property
    def login_url(self) -> str:
        return f"{self.url}#token={self.token}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        self.httpd.shutdown()

    def close(self) -> None:
        """Stop listening; refresh the overview and ``figures_corrected`` if anything was written."""
        self.httpd.server_close()
        if self.state.corrections_written:
            from extract.report.corrections import export_corrected

            try:
                with open_store(self.directory) as store:
                    write_index(self.directory, store.con)
                    export_corrected(store, self.directory)
            except StoreError as exc:
                log.warning("could not refresh the report after review: %s", exc)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "reviewer"


def serve_until_stopped(server: ReviewServer) -> None:
    """Serve until Ctrl-C or SIGTERM, then close (refreshing the overview and figures_corrected)."""
    import signal

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopping the review server")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
