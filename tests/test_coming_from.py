"""Every example of docs/coming_from.md runs (a doctest of the page)."""

from __future__ import annotations

import doctest
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "coming_from.md"


def test_every_example_of_the_coming_from_page_runs():
    result = doctest.testfile(str(PAGE), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0, result
