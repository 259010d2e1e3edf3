"""Existing MJML drops into tailor and renders as official MJML renders it.

Two corpora, each file used as it is: the 25 templates of the public MJML gallery
(tests/fixtures/mjml-gallery) and the example of each component's documentation
(tests/fixtures/mjml-components). Each file goes into a fresh ``templates/`` folder and
is rendered twice: by tailor (compiled once with mjml-python, Jinja per recipient) and by
the reference pipeline with official npm ``mjml@4.18.0``. A reader must get the same
visible text, links and images, and the client the same layout: column widths,
Outlook's conditional tables, the hamburger/carousel/accordion parts, and the text
styles mj-attributes/mj-class give.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tailor.rendering.compiler import Compiler
from tailor.rendering.inspect import anatomy, layout, text_styles
from tailor.rendering.naive import render_naive

FIXTURES = Path(__file__).parents[1] / "fixtures"
GALLERY = sorted((FIXTURES / "mjml-gallery").glob("*.mjml"))
COMPONENTS = sorted((FIXTURES / "mjml-components").glob("*.mjml"))
_DATA_ATTRIBUTE = re.compile(r"\sdata-[\w-]+=\"[^\"]*\"")
#: two gallery templates carry ESP merge tags ({{FirstName}}): in tailor they are Jinja
MERGE_TAGS = {"FirstName": "Ada", "Company": "Acme", "CompanyName": "Acme", "ReferalCode": "ADA-42"}


def drop_in(templates: Path, source: Path) -> Compiler:
    """The file as a tailor template; a subject in front matter only when it has no <mj-title>."""
    templates.mkdir(exist_ok=True)
    text = source.read_text(encoding="utf-8")
    if "<mj-title" not in text:
        text = "---\nsubject: Gallery test\n---\n" + text
    (templates / source.name).write_text(text, encoding="utf-8")
    return Compiler(templates)


def assert_renders_like_official(compiler: Compiler, name: str, oracle) -> str:
    """Compare tailor's render with official MJML's; returns tailor's visible text."""
    compiled = compiler.compile_fresh(name)
    ours = compiled.render(MERGE_TAGS).html
    official = render_naive(compiler, name, MERGE_TAGS, {}, mjml=oracle, inliner="css-inline", utm=compiled.utm)
    a, b = anatomy(ours), anatomy(official)
    assert a.text == b.text
    assert a.links == b.links
    assert a.images == b.images
    shape, official_shape = layout(ours), layout(official)
    assert shape.columns == official_shape.columns
    assert shape.outlook_widths == official_shape.outlook_widths
    assert shape.widgets == official_shape.widgets
    # attributes set by <mj-html-attributes> (MRML has none: tailor applies them after the compile)
    assert _DATA_ATTRIBUTE.findall(ours) == _DATA_ATTRIBUTE.findall(official)
    # mj-attributes, mj-class and defaults reach the text as in official MJML's own output
    # (not the reference pipeline's, whose inliner also inlines MJML's <style> rules)
    source = compiler.path_of(name).read_text(encoding="utf-8").split("---\n", 2)[-1]
    official_as_is = compiler.html_env.from_string(oracle(source)).render(MERGE_TAGS)
    assert text_styles(ours) == text_styles(official_as_is)
    return a.text


@pytest.mark.parametrize("source", GALLERY, ids=lambda p: p.stem)
def test_gallery_template_renders_like_official_mjml(tmp_path, mjml_oracle, source):
    compiler = drop_in(tmp_path / "templates", source)
    text = assert_renders_like_official(compiler, source.stem, mjml_oracle)
    assert len(text) > 100, "a gallery email has real content"


@pytest.mark.parametrize("source", COMPONENTS, ids=lambda p: p.stem)
def test_component_documentation_example_renders_like_official_mjml(tmp_path, mjml_oracle, source):
    compiler = drop_in(tmp_path / "templates", source)
    assert_renders_like_official(compiler, source.stem, mjml_oracle)


def test_the_whole_gallery_is_there():
    assert len(GALLERY) == 25
    assert len(COMPONENTS) == 24


def test_mj_html_attributes_are_set(tmp_path, mjml_oracle):
    source = FIXTURES / "mjml-components" / "mjml-head-html-attributes.mjml"
    html = drop_in(tmp_path / "templates", source).compile_fresh(source.stem).render({}).html
    assert _DATA_ATTRIBUTE.findall(html) == [' data-id="42"']


@pytest.mark.parametrize("source", [p for p in GALLERY if "<mj-title" in p.read_text()], ids=lambda p: p.stem)
def test_an_mj_title_is_the_subject_of_a_file_dropped_in_as_it_is(tmp_path, source):
    compiler = drop_in(tmp_path / "templates", source)
    title = source.read_text().split("<mj-title>", 1)[1].split("</mj-title>", 1)[0]
    assert compiler.compile_fresh(source.stem).render(MERGE_TAGS).subject == " ".join(title.split())


#: Jinja in every position the gallery's markup uses: attribute lists over several lines with
#: ">" alone on a line, closing tags split the same way, entities, comments and Jinja between
#: sections, conditional comments in mj-raw, navbar and carousel attributes, mj-attributes/mj-class.
#: (A raw ``<!--[if !mso]><!-->…<!--<![endif]-->`` pair is inside a column, not between sections:
#: official MJML 4.18 merges a raw's closing ``<![endif]-->`` with the next section's Outlook
#: conditional, and after ``<!--<![endif]-->`` that hides the section's Outlook table from
#: Outlook; tailor keeps the table, so the layouts would differ by official MJML's bug.)
JINJA_EVERYWHERE = """---
subject: "{{ name }}, your picks"
---
<mjml>
  <mj-head>
    <mj-attributes>
      <mj-class name="lead" font-size="18px" color="#333333" />
      <mj-all font-family="Arial, sans-serif" />
    </mj-attributes>
  </mj-head>
  <mj-body>
    <!-- Header: {{ name }} -->
    <mj-section
      background-color="#ffffff"
      padding="0 15px 0 15px"
    >
      <mj-column
        width="100%"
      >
        <mj-text
          mj-class="lead"
          css-class="hello"
          >Hi&nbsp;{{ name }} &amp; friends &mdash; {{ tagline }}</mj-text
        >
        <mj-button
          href="{{ url }}?a=1&amp;b=2"
          background-color="#f45e43"
        >
          Shop {{ name }}
        </mj-button>
      </mj-column>
    </mj-section>
    {# a Jinja comment between sections #}
    {% if vip %}
    <mj-raw><!--[if mso]><p>{{ name }} (Outlook)</p><![endif]--></mj-raw>
    <mj-section>
      <mj-column>
        <mj-raw><!--[if !mso]><!--></mj-raw>
        <mj-text>VIP {{ name }}</mj-text>
        <mj-raw><!--<![endif]--></mj-raw>
      </mj-column>
    </mj-section>
    {% endif %}
    <mj-section>
      <mj-column>
        <mj-navbar
          base-url="https://shop.example"
          hamburger="hamburger"
          ico-color="#444"
        >
          <mj-navbar-link href="/home?u={{ user_id }}">Home</mj-navbar-link>
          <mj-navbar-link href="/deals">Deals for {{ name }}</mj-navbar-link>
        </mj-navbar>
        <mj-carousel
          left-icon="https://shop.example/l.png"
          right-icon="https://shop.example/r.png"
        >
          <mj-carousel-image src="{{ items[0].image }}" alt="{{ items[0].title }}" href="{{ items[0].url }}" />
          <mj-carousel-image
            src="{{ items[1].image }}"
            alt="{{ items[1].title }}"
            href="{{ items[1].url }}"
          />
        </mj-carousel>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""


@pytest.mark.parametrize(
    "context",
    [
        {"name": "Ada", "vip": True, "tagline": "new in", "url": "https://shop.example/p", "user_id": 7},
        {"name": 'Bob & "Co" <b>', "vip": False, "tagline": "", "url": "https://shop.example/q", "user_id": 8},
    ],
    ids=["vip", "escaped"],
)
def test_jinja_in_the_gallery_positions_renders_like_official_mjml_per_recipient(tmp_path, mjml_oracle, context):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "positions.mjml").write_text(JINJA_EVERYWHERE, encoding="utf-8")
    items = [
        {"image": f"https://shop.example/{i}.jpg", "title": f"Item {i}", "url": f"https://shop.example/{i}"}
        for i in range(3)
    ]
    context = {**context, "items": items}
    compiler = Compiler(templates)
    compiled = compiler.compile_fresh("positions")
    ours = compiled.render(context).html
    official = render_naive(
        compiler, "positions", context, {}, mjml=mjml_oracle, inliner="css-inline", utm=compiled.utm
    )
    a, b = anatomy(ours), anatomy(official)
    assert a.text == b.text
    assert a.links == b.links
    assert a.images == b.images
    assert layout(ours) == layout(official)
    assert (context["name"] in a.text) or ("&" in context["name"] and "Bob" in a.text)
    assert ("(Outlook)" in ours) == context["vip"]


def test_a_jinja_loop_inside_a_carousel_is_refused_with_its_position(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "loop.mjml").write_text(
        "---\nsubject: x\n---\n<mjml><mj-body><mj-section><mj-column><mj-carousel>\n"
        '  {% for i in items %}<mj-carousel-image src="{{ i }}" />{% endfor %}\n'
        "</mj-carousel></mj-column></mj-section></mj-body></mjml>",
        encoding="utf-8",
    )
    problems = [str(p) for p in Compiler(templates).check("loop")]
    assert len(problems) == 1
    assert problems[0].startswith(f"{templates / 'loop.mjml'}:5:3: ")
    assert "inside <mj-carousel>" in problems[0]


def test_a_title_whose_closing_tag_is_split_over_two_lines_is_the_subject(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "split.mjml").write_text(
        "<mjml><mj-head><mj-title\n  >Spring sale</mj-title\n  ><mj-preview>Up to 50%</mj-preview\n>"
        "</mj-head><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>",
        encoding="utf-8",
    )
    rendered = Compiler(templates).compile_fresh("split").render({})
    assert (rendered.subject, rendered.preheader) == ("Spring sale", "Up to 50%")
