"""docs/rules.md publishes the rule-file schema: keep it equal to the code's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tailor.rules import SCHEMA

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_published_schema_matches_the_code():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## JSON Schema of a rule file", 1)[1]
    published = re.search(r"```json\n(.*?)\n```", section, re.S).group(1)
    assert json.loads(published) == SCHEMA


def test_documented_features_are_the_computed_ones():
    from tailor.features import FEATURE_NAMES

    text = DOC.read_text(encoding="utf-8")
    for name in FEATURE_NAMES:
        assert f"`{name}`" in text, name
