"""Every kind of broken template gets one precise `path:line:col: message`, at compile time."""

from __future__ import annotations

import pytest

from tailor.problems import ProblemError
from tailor.rendering.compiler import Compiler, UnknownTemplate


def wrap(body: str) -> str:
    return "<mjml><mj-head><mj-title>T</mj-title></mj-head><mj-body>\n" + body + "\n</mj-body></mjml>\n"


SECTION = "<mj-section><mj-column><mj-text>{}</mj-text></mj-column></mj-section>"


def problems_of(write_templates, files, name="t"):
    compiler = Compiler(write_templates(files))
    with pytest.raises(ProblemError) as err:
        compiler.get(name)
    return err.value.problems


@pytest.mark.parametrize(
    "body,line,fragment",
    [
        ('<mj-section><mj-column width="{{ w }}"><mj-text>x</mj-text></mj-column></mj-section>', 2, "width"),
        ('<mj-section padding="{{ p }}px"><mj-column><mj-text>x</mj-text></mj-column></mj-section>', 2, "padding"),
        (
            '<mj-section><mj-column><mj-image width="{{ w }}" src="https://x.example/a.png" />'
            "</mj-column></mj-section>",
            2,
            "width",
        ),
        (
            '<mj-section><mj-column><mj-text font-family="{{ font }}">x</mj-text></mj-column></mj-section>',
            2,
            "font-family",
        ),
        (
            "<mj-section>\n{% for p in recs %}\n<mj-column><mj-text>{{ p }}</mj-text></mj-column>\n"
            "{% endfor %}\n</mj-section>",
            3,
            "around <mj-column>",
        ),
        (
            "<mj-section>\n{% if vip %}<mj-column><mj-text>a</mj-text></mj-column>{% endif %}\n"
            "<mj-column><mj-text>b</mj-text></mj-column>\n</mj-section>",
            3,
            "around <mj-column>",
        ),
    ],
)
def test_jinja_in_layout_arithmetic_is_rejected(write_templates, body, line, fragment):
    (problem,) = problems_of(write_templates, {"t.mjml": wrap(body)})
    assert problem.path.endswith("t.mjml")
    assert problem.line == line
    assert fragment in problem.message


def test_jinja_where_it_is_safe_is_accepted(write_templates):
    body = (
        '{% for p in recs %}<mj-section background-color="{{ p.color }}">'
        '<mj-column><mj-image src="{{ p.image }}" alt="{{ p.title }}" /></mj-column>'
        "</mj-section>{% endfor %}"
    )
    Compiler(write_templates({"t.mjml": wrap(body)})).get("t")


@pytest.mark.parametrize(
    "body,line,col,fragment",
    [
        (SECTION.format("a < b"), 2, 35, "bare '<'"),
        ("<mj-section><mj-column><mj-txt>x</mj-txt></mj-column></mj-section>", 2, 24, "unknown MJML tag <mj-txt>"),
        ("<mj-section><mj-column><mj-text>x</mj-text></mj-section>", 2, 44, "closes nothing"),
        ("<mj-column><mj-text>x</mj-text></mj-column>", 2, 1, "cannot be inside <mj-body>"),
        (
            '<mj-section><mj-column><mj-text color="reddish-ish!">x</mj-text></mj-column></mj-section>',
            2,
            33,
            "not a color",
        ),
        (SECTION.format("{{ name }"), 2, 33, "Jinja syntax error"),
        (SECTION.format("{% if x %}open"), 2, 33, "{% if %} is never closed: add {% endif %}"),
    ],
)
def test_structural_problems_are_located(write_templates, body, line, col, fragment):
    problems = problems_of(write_templates, {"t.mjml": wrap(body)})
    assert any(p.line == line and p.col == col and fragment in p.message for p in problems), [str(p) for p in problems]


def test_missing_include_names_the_including_file_and_line(write_templates):
    files = {
        "t.mjml": wrap('{% include "partials/header.mjml" %}\n' + SECTION.format("x")),
        "partials/header.mjml": (
            '<mj-section><mj-column><mj-text>h</mj-text></mj-column></mj-section>\n{% include "partials/nope.mjml" %}\n'
        ),
    }
    (problem,) = problems_of(write_templates, files)
    assert problem.path.endswith("partials/header.mjml")
    assert (problem.line, problem.col) == (2, 1)
    assert "'partials/nope.mjml' not found" in problem.message


def test_error_inside_an_include_points_into_the_include(write_templates):
    files = {
        "t.mjml": wrap('{% include "partials/header.mjml" %}'),
        "partials/header.mjml": (
            "<mj-section>\n  <mj-column><mj-text>{{ broken( }}</mj-text></mj-column>\n</mj-section>\n"
        ),
    }
    (problem,) = problems_of(write_templates, files)
    assert problem.path.endswith("partials/header.mjml") and problem.line == 2


def test_include_cycle(write_templates):
    files = {"t.mjml": wrap('{% include "partials/a.mjml" %}'), "partials/a.mjml": '{% include "partials/a.mjml" %}'}
    assert "include cycle" in problems_of(write_templates, files)[0].message


def test_dynamic_include_is_rejected(write_templates):
    (problem,) = problems_of(write_templates, {"t.mjml": wrap("{% include name %}")})
    assert "quoted file name" in problem.message


def test_slot_without_default(write_templates):
    (problem,) = problems_of(write_templates, {"t.mjml": wrap('{% slot "hero" %}')})
    assert "slot 'hero' has no default" in problem.message and problem.line == 2


def test_slot_with_missing_block(write_templates):
    (problem,) = problems_of(write_templates, {"t.mjml": wrap('{% slot "hero" default="hero/none" %}')})
    assert "block 'hero/none' not found" in problem.message


def test_bad_front_matter(write_templates):
    (problem,) = problems_of(write_templates, {"t.mjml": "---\nsubject: [unclosed\n---\n" + wrap(SECTION.format("x"))})
    assert problem.line == 3 and "YAML" in problem.message


def test_unknown_setting_in_front_matter(write_templates):
    (problem,) = problems_of(write_templates, {"t.mjml": "---\nsubjet: Hi\n---\n" + wrap(SECTION.format("x"))})
    assert "unknown template setting 'subjet'" in problem.message


def test_html_in_preview_is_rejected(write_templates):
    source = (
        "<mjml><mj-head><mj-title>T</mj-title><mj-preview>Hi <b>you</b></mj-preview></mj-head>"
        "<mj-body></mj-body></mjml>"
    )
    assert "mj-preview takes plain text" in problems_of(write_templates, {"t.mjml": source})[0].message


def test_unknown_template(write_templates):
    compiler = Compiler(write_templates({"a.mjml": wrap(SECTION.format("x"))}))
    with pytest.raises(UnknownTemplate, match=r"unknown template 'b'.*known: a"):
        compiler.get("b")


def test_unclosed_tag_in_a_block_is_reported_in_that_block(write_templates):
    files = {
        "t.mjml": wrap('{% slot "hero" default="hero/a" %}'),
        "blocks/hero/a.mjml": (
            "<mj-section><mj-column>\n<mj-text>Hi {{ profile.first_name | title</mj-text>\n</mj-column></mj-section>\n"
        ),
    }
    compiler = Compiler(write_templates(files), slot_resolver=lambda s: (["hero/b"], "hero/a"))
    (compiler.templates_dir / "blocks/hero/b.mjml").write_text(
        "<mj-section><mj-column><mj-text>{{ x }}</mj-text></mj-column></mj-section>"
    )
    with pytest.raises(ProblemError) as err:
        compiler.get("t")
    (problem,) = err.value.problems
    assert problem.path.endswith("blocks/hero/a.mjml") and (problem.line, problem.col) == (2, 13)
    assert "never closed" in problem.message
