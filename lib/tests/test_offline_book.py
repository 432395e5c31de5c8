"""The built HTML book loads nothing from outside: no external script, style sheet, font or image.

Reads the book that ``make test`` has just built (``build-check``: ``.venv/book-check/_build/html``), or the
folder named by ``AUDIOFORMERS_BOOK_HTML``; when that variable is set (the Makefile sets it) a missing build is
a failure, otherwise the build-dependent test is skipped. The scanner itself is tested on small pages.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HTML = ROOT / ".venv" / "book-check" / "_build" / "html"
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


def _external(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


class _Loads(HTMLParser):
    """What a page loads by itself: script src, link rel=stylesheet/preload/icon/modulepreload href, img/audio/
    video/source/iframe/embed src, and url() in inline <style> blocks and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[tuple[str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.loads.append(("script", a["src"]))
        elif tag == "link" and a.get("href"):
            rel = set(a.get("rel", "").lower().split())
            if rel & {"stylesheet", "preload", "modulepreload", "icon", "shortcut"}:
                self.loads.append((f"link rel={a.get('rel')}", a["href"]))
        elif tag in ("img", "audio", "video", "source", "iframe", "embed") and a.get("src"):
            if not a["src"].startswith("data:"):
                self.loads.append((tag, a["src"]))
        if a.get("style"):
            self.loads += [("style attribute", m.group(1) or m.group(2)) for m in CSS_URL.finditer(a["style"])]
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.loads += [("inline style", m.group(1) or m.group(2)) for m in CSS_URL.finditer(data)]


def page_loads(html: str) -> list[tuple[str, str]]:
    parser = _Loads()
    parser.feed(html)
    return parser.loads


def css_loads(css: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in CSS_URL.finditer(css)]


def offline_problems(site: Path) -> list[str]:
    """Every external load, and every local script/style sheet/font a page or style sheet names but the site lacks."""
    problems = []
    for page in sorted(site.rglob("*.html")):
        if page.relative_to(site).parts[0] == "_static":
            continue  # the themes' Jinja macro files, copied as they are: templates, not pages
        for kind, url in page_loads(page.read_text(errors="replace")):
            where = page.relative_to(site)
            if _external(url):
                problems.append(f"{where}: {kind} loads {url}")
            elif not url.startswith(("data:", "#", "mailto:")):
                target = (page.parent / unquote(urlsplit(url).path)).resolve()
                if kind.startswith(("script", "link")) and not target.exists():
                    problems.append(f"{where}: {kind} names {url}, which the built site lacks")
    for sheet in sorted(site.rglob("*.css")):
        for url in css_loads(sheet.read_text(errors="replace")):
            where = sheet.relative_to(site)
            if _external(url):
                problems.append(f"{where}: url() loads {url}")
            elif not url.startswith(("data:", "#")):
                target = (sheet.parent / unquote(urlsplit(url).path)).resolve()
                if not target.exists():
                    problems.append(f"{where}: url() names {url}, which the built site lacks")
    return problems


def test_scanner_finds_external_scripts_styles_fonts_and_missing_files(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "ok.js").write_text("")
    (tmp_path / "_static" / "font.woff2").write_bytes(b"")
    (tmp_path / "_static" / "site.css").write_text(
        "@font-face { src: url('font.woff2') } @font-face { src: url(https://fonts.gstatic.com/x.woff2) }"
        " .a { background: url(data:image/png;base64,AAAA) } .b { background: url(missing.png) }")
    (tmp_path / "index.html").write_text(
        '<html><head><script src="_static/ok.js"></script>'
        '<script async src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
        '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Lato">'
        '<link rel="stylesheet" href="_static/site.css"><link rel="stylesheet" href="_static/gone.css">'
        '<style>@import "https://example.org/x.css";</style></head>'
        '<body><a href="https://colab.research.google.com/x">a link is not a load</a>'
        '<img src="data:image/png;base64,AAAA"></body></html>')
    problems = offline_problems(tmp_path)
    assert any("cdn.jsdelivr.net" in p and "script" in p for p in problems)
    assert any("fonts.googleapis.com" in p for p in problems)
    assert any("fonts.gstatic.com" in p for p in problems)
    assert any("example.org/x.css" in p for p in problems)
    assert any("gone.css" in p and "lacks" in p for p in problems)
    assert any("missing.png" in p for p in problems)
    assert not any("colab" in p or "ok.js" in p or "font.woff2" in p or "data:" in p for p in problems)
    assert len(problems) == 6


def _built_site() -> Path | None:
    wanted = os.environ.get("AUDIOFORMERS_BOOK_HTML")
    site = Path(wanted) if wanted else DEFAULT_HTML
    if (site / "index.html").exists():
        return site
    if wanted:
        pytest.fail(f"AUDIOFORMERS_BOOK_HTML={wanted} holds no built book (index.html missing)")
    return None


def test_the_built_book_loads_nothing_from_outside():
    site = _built_site()
    if site is None:
        pytest.skip(f"no built book at {DEFAULT_HTML} (`make build-check` builds it; `make test` does it first)")
    problems = offline_problems(site)
    assert not problems, "the book loads from outside or names missing files:\n" + "\n".join(problems[:40])
    # The maths is typeset by the MathJax copied into the site, with its fonts.
    pages = [p for p in site.rglob("*.html") if "mathjax" in p.read_text(errors="replace").lower()]
    assert pages, "no page loads MathJax: the book's formulas would not render"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert list((site / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))


def test_the_launch_buttons_open_the_notebooks_at_the_release_tag():
    site = _built_site()
    if site is None:
        pytest.skip(f"no built book at {DEFAULT_HTML} (`make build-check` builds it; `make test` does it first)")
    from audioformers import booktools

    tag, url = booktools.release_tag(ROOT), booktools.repository_url(ROOT)
    repo = urlsplit(url).path.strip("/")
    chapter = site / "chapters" / "01_fourier_spectrograms.html"
    links = re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', chapter.read_text())
    assert links, "the chapter page has no Colab launch button"
    assert all(f"/github/{repo}/blob/{tag}/" in link for link in links), links
