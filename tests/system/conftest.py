"""Chromium for the page and widget tests: one browser per module, a fresh context per test
that records dialogs (a planted `alert` would show up in `page.dialogs`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.devtools.screenshots import launch_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_chromium(pw)
        yield b
        b.close()


@pytest.fixture
def viewport() -> dict[str, int]:
    """A module may override this fixture for its own page size."""
    return {"width": 1200, "height": 900}


@pytest.fixture
def page(browser: Any, viewport: dict[str, int]) -> Iterator[Any]:
    context = browser.new_context(viewport=viewport)
    p = context.new_page()
    p.dialogs = []  # type: ignore[attr-defined]
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield p
    context.close()
