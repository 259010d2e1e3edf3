"""Errors at the right place, once: in the file and on the line that holds the mistake.

Each case puts one mistake in a slot block (or a setting) shared by several templates, and
asserts ``tailor check`` reports it once, at the block's own ``path:line:col``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tailor.core import Tailor

HOST = """---
subject: "Hello {{ profile.first_name | default('there') }}"
---
<mjml><mj-head><mj-title>T</mj-title></mj-head><mj-body>
{% slot "hero" default="hero/a" %}
{% include "partials/footer.mjml" %}
</mj-body></mjml>
"""
FOOTER = "<mj-section><mj-column>\n<mj-text>{% if profile.email %}Bye{% endif %}</mj-text>\n</mj-column></mj-section>\n"
GOOD_BLOCK = "<mj-section><mj-column>\n<mj-text>Hi {{ profile.first_name | default('you') }}</mj-text>\n</mj-column>"
GOOD_BLOCK += "</mj-section>\n"


def shop(write_templates, block: str, host: str = HOST) -> Tailor:
    """Three templates that all include the block ``hero/a``, and an empty rules folder."""
    files = {f"t{i}.mjml": host for i in range(3)}
    files.update({"partials/footer.mjml": FOOTER, "blocks/hero/a.mjml": block})
    templates = write_templates(files)
    rules = templates.parent / "rules"
    rules.mkdir()
    return Tailor(templates, rules)


def problems(tailor: Tailor) -> list[str]:
    root = str(tailor.templates_dir.parent) + "/"
    return [str(p).replace(root, "") for p in tailor.check()]


def test_the_good_shop_has_no_problems(write_templates):
    assert problems(shop(write_templates, GOOD_BLOCK)) == []


@pytest.mark.parametrize(
    "mistake,expected",
    [
        (
            GOOD_BLOCK.replace("Hi {{", "{% if profile.first_name %}Hi {{"),
            "templates/blocks/hero/a.mjml:2:10: {% if %} is never closed: add {% endif %}",
        ),
        (
            GOOD_BLOCK.replace("Hi {{", "{% for x in recs %}Hi {{"),
            "templates/blocks/hero/a.mjml:2:10: {% for %} is never closed: add {% endfor %}",
        ),
        (
            GOOD_BLOCK.replace("| default('you')", "| titel"),
            "templates/blocks/hero/a.mjml:2:37: unknown filter 'titel' (did you mean 'title'?)",
        ),
        (
            GOOD_BLOCK.replace("Hi {{", "{% if recs is nmber %}x{% endif %}Hi {{"),
            "templates/blocks/hero/a.mjml:2:24: unknown test 'nmber' (did you mean 'number'?)",
        ),
        (
            GOOD_BLOCK.replace("</mj-text>", ""),
            "templates/blocks/hero/a.mjml:2:1: <mj-text> is never closed: add </mj-text> before </mj-column>",
        ),
    ],
)
def test_a_mistake_in_a_shared_block_is_reported_once_in_the_block(write_templates, mistake, expected):
    assert problems(shop(write_templates, mistake)) == [expected]


def test_an_unknown_filter_in_the_subject_points_at_the_front_matter(write_templates):
    tailor = shop(write_templates, GOOD_BLOCK, HOST.replace("| default('there')", "| titel"))
    assert problems(tailor) == [
        f"templates/t{i}.mjml:2:41: subject: unknown filter 'titel' (did you mean 'title'?)" for i in range(3)
    ]


def test_an_unknown_filter_in_a_settings_file_points_into_it(write_templates):
    host = HOST.split("---\n", 2)[2]
    tailor = shop(write_templates, GOOD_BLOCK, host)
    Path(tailor.templates_dir / "t0.yaml").write_text("description: x\nsubject: 'Hi {{ now | dat }}'\n")
    assert problems(tailor) == ["templates/t0.yaml:2:23: subject: unknown filter 'dat' (did you mean 'date'?)"]
