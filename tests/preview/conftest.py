"""The preview studio in a real browser: a live server over a copy of the shop, and Debian's chromium via Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from preview_helpers import CHROMIUM, CHROMIUM_ARGS, ROOT, LiveServer, make_app, require


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright (which never downloads a browser here)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the Python package `playwright` is not installed (pip install playwright)")
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.route("**/*", _offline)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


_PLACEHOLDER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400" viewBox="0 0 600 400">'
    b'<rect width="600" height="400" fill="#e4ddd3"/><path d="M220 260l60-70 50 55 35-35 70 50z" fill="#cfc5b8"/></svg>'
)


def _offline(route: Any) -> None:
    """Only the local server is reachable: the emails' CDN images become a neutral placeholder."""
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "about:", "data:", "file:")):
        route.continue_()
    elif route.request.resource_type == "image":
        route.fulfill(status=200, content_type="image/svg+xml", body=_PLACEHOLDER)
    else:
        route.abort()


@pytest.fixture(scope="session")
def shop_recommender() -> Any:
    """Built-in recommenders fitted on the example shop (once per run: fitting takes seconds)."""
    from tailor.recommendations import RecommendationService
    from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file

    catalog = read_catalog_file(ROOT / "fixtures" / "catalog.csv")
    return RecommendationService(catalog, fit_models(read_events_file(ROOT / "fixtures" / "events.jsonl"), catalog))


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A copy of the shop's templates, rules and personas that a test may edit and break."""
    for folder in ("templates", "rules"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copytree(ROOT / "fixtures" / "personas", tmp_path / "personas")
    return tmp_path


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """``serve(app)`` starts ``app`` on a real loopback socket and returns its base URL."""
    servers: list[LiveServer] = []

    def start(app: Any) -> str:
        server = LiveServer(app).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def studio(shop: Path, shop_recommender: Any, serve: Callable[[Any], str]) -> str:
    """Base URL of a running service whose files live in ``shop``."""
    return serve(make_app(shop, shop_recommender))
