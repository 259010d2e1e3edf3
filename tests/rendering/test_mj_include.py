"""``<mj-include>`` works as in official MJML, inside the templates folder only.

An MJML project with includes drops in: MJML includes (a whole ``<mjml>`` document or a
fragment), ``type="css"`` (and ``css-inline="inline"``) and ``type="html"``, each path
relative to the file that names it. The page is compared with official MJML resolving the
same includes itself. Paths leaving ``templates/`` (``..``, absolute, or through a
symlink) and include cycles are refused at ``path:line:col``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tailor.problems import ProblemError
from tailor.rendering.compiler import Compiler
from tailor.rendering.inspect import anatomy, layout

PAGE = """---
subject: Hello {{ name }}
---
<mjml>
  <mj-head>
    <mj-include path="./css/brand.css" type="css" css-inline="inline" />
    <mj-include path="css/extra.css" type="css" />
  </mj-head>
  <mj-body>
    <mj-include path="partials/header.mjml" />
    <mj-section><mj-column><mj-text css-class="hello">Hello {{ name }}</mj-text></mj-column></mj-section>
    <mj-include
      path="partials/footer.html"
      type="html"
    />
  </mj-body>
</mjml>
"""
HEADER = """<mjml>
  <mj-head>
    <mj-attributes><mj-text color="#ff0000" /></mj-attributes>
  </mj-head>
  <mj-body>
    <mj-section><mj-column><mj-text>Header</mj-text></mj-column></mj-section>
    <mj-include path="./nav.mjml" />
  </mj-body>
</mjml>
"""
FILES = {
    "page.mjml": PAGE,
    "partials/header.mjml": HEADER,
    "partials/nav.mjml": (
        '<mj-section><mj-column><mj-button href="https://shop.example/">Shop</mj-button></mj-column></mj-section>\n'
    ),
    "partials/footer.html": '<p class="foot">Footer &copy; {{ company }}</p>\n',
    "css/brand.css": ".hello div { font-weight: bold; }\n",
    "css/extra.css": ".foot { color: blue; }\n",
}
CONTEXT = {"name": "Ada", "company": "Acme"}


def write(templates: Path, files: dict[str, str]) -> Compiler:
    for name, text in files.items():
        (templates / name).parent.mkdir(parents=True, exist_ok=True)
        (templates / name).write_text(text, encoding="utf-8")
    return Compiler(templates)


def problems_of(compiler: Compiler, name: str) -> list[str]:
    with pytest.raises(ProblemError) as caught:
        compiler.compile_fresh(name)
    return [str(p) for p in caught.value.problems]


def test_includes_render_as_official_mjml_resolves_them(tmp_path, mjml_oracle):
    templates = tmp_path / "templates"
    compiler = write(templates, FILES)
    compiled = compiler.compile_fresh("page")
    ours = compiled.render(CONTEXT).html
    page = templates / "page.mjml"
    official_source = mjml_oracle(PAGE.split("---\n", 2)[2], file_path=page)
    official = compiler.html_env.from_string(official_source).render(CONTEXT)
    a, b = anatomy(ours), anatomy(official)
    assert a.text == b.text == "Header Shop Hello Ada Footer © Acme"
    assert a.links == [link for link in a.links if link.startswith("https://shop.example/")] and len(a.links) == 1
    assert layout(ours) == layout(official)
    # the included head's mj-attributes apply to the page, the css-inline file is inlined,
    # the other css file stays a <style> in the head
    assert re.search(r'<div style="font-weight: ?bold;[^"]*color: ?#ff0000;?">Hello Ada', ours)
    assert ".foot { color: blue; }" in ours.split("</head>")[0]
    assert compiled.render(CONTEXT).subject == "Hello Ada"
    # an edit to an included file makes a new version
    (templates / "partials/nav.mjml").write_text(FILES["partials/nav.mjml"].replace("Shop", "Store"))
    assert "Store" in anatomy(compiler.compile_fresh("page").render(CONTEXT).html).text


def test_a_fragment_include_inside_a_column(tmp_path):
    compiler = write(
        tmp_path / "templates",
        {
            "page.mjml": "---\nsubject: x\n---\n<mjml><mj-body><mj-section><mj-column>"
            '<mj-include path="bits/text.mjml" /></mj-column></mj-section></mj-body></mjml>',
            "bits/text.mjml": "<mj-text>From a fragment</mj-text>",
        },
    )
    assert anatomy(compiler.compile_fresh("page").render({}).html).text == "From a fragment"


@pytest.mark.parametrize("path", ["../secret.mjml", "/etc/hostname", "partials/../../secret.mjml"])
def test_an_include_outside_templates_is_refused_at_its_position(tmp_path, path):
    (tmp_path / "secret.mjml").write_text("<mj-text>SECRET</mj-text>")
    page = f'---\nsubject: x\n---\n<mjml><mj-body>\n  <mj-include path="{path}" />\n</mj-body></mjml>'
    compiler = write(tmp_path / "templates", {"page.mjml": page})
    (problem,) = problems_of(compiler, "page")
    assert problem.startswith(f"{tmp_path / 'templates' / 'page.mjml'}:5:3: ")
    assert "outside the templates folder" in problem


def test_an_include_through_a_symlink_out_of_templates_is_refused(tmp_path):
    (tmp_path / "secret.css").write_text("body { background: url(SECRET) }")
    compiler = write(
        tmp_path / "templates",
        {
            "page.mjml": (
                '---\nsubject: x\n---\n<mjml><mj-head><mj-include path="brand.css" type="css" /></mj-head></mjml>'
            )
        },
    )
    (tmp_path / "templates" / "brand.css").symlink_to(tmp_path / "secret.css")
    (problem,) = problems_of(compiler, "page")
    assert ":4:16: " in problem and "outside the templates folder" in problem


def test_an_include_cycle_is_reported_where_it_closes(tmp_path):
    compiler = write(
        tmp_path / "templates",
        {
            "page.mjml": '---\nsubject: x\n---\n<mjml><mj-body><mj-include path="parts/a.mjml" /></mj-body></mjml>',
            "parts/a.mjml": (
                '<mj-section><mj-column><mj-text>A</mj-text></mj-column></mj-section>\n<mj-include path="b.mjml" />'
            ),
            "parts/b.mjml": '\n\n  <mj-include path="./a.mjml" />',
        },
    )
    (problem,) = problems_of(compiler, "page")
    assert problem.startswith(f"{tmp_path / 'templates' / 'parts' / 'b.mjml'}:3:3: include cycle: ")
    assert "a.mjml -> b.mjml -> a.mjml" in problem


def test_a_missing_include_or_a_variable_path_is_an_error_not_a_silent_gap(tmp_path):
    compiler = write(
        tmp_path / "templates",
        {
            "page.mjml": '---\nsubject: x\n---\n<mjml><mj-body><mj-include path="nope.mjml" />'
            '<mj-include path="{{ x }}.mjml" /><mj-include path="a.txt" type="text" /></mj-body></mjml>',
        },
    )
    problems = problems_of(compiler, "page")
    assert len(problems) == 3
    assert "nope.mjml" in problems[0] and "not found" in problems[0]
    assert "literal" in problems[1]
    assert "type=" in problems[2]
