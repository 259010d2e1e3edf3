"""A template can only read files inside templates/: every way of naming a file, symlinks followed.

The attacker is a marketer with write access to templates/ who wants the server's
environment (TAILOR_SECRET) or a config file in an email. Each payload must be refused
at `tailor check` and at compile with `path:line:col`, and the file's content must
never reach a render.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tailor import Tailor
from tailor.email import TemplateBroken
from tailor.rendering.environment import make_environment, render_capped

SECRET = "TOP-SECRET-VALUE-42"


def page(body: str) -> str:
    return "---\nsubject: Hi\n---\n<!doctype html><html><body>\n" + body + "\n</body></html>\n"


def tailor_for(root: Path, tmp_path: Path) -> Tailor:
    (tmp_path / "rules").mkdir(exist_ok=True)
    return Tailor(root, tmp_path / "rules")


@pytest.fixture
def secret_file(tmp_path):
    """A file outside templates/ standing for /proc/self/environ or tailor.toml."""
    path = tmp_path / "outside" / "secrets.html"
    path.parent.mkdir()
    path.write_text(f"TAILOR_SECRET={SECRET}\n{{% macro m() %}}{SECRET}{{% endmacro %}}", encoding="utf-8")
    return path


def payloads(secret_file):
    absolute = str(secret_file)
    relative = "../outside/secrets.html"
    return {
        "absolute include": f'{{% include "{absolute}" %}}',
        "../ include": f'{{% include "{relative}" %}}',
        "../ include inside partials/": '{% include "partials/../../outside/secrets.html" %}',
        "include with + whitespace control": f'{{%+ include "{relative}" +%}}',
        "include of a list": f'{{% include ["{relative}"] %}}',
        "include of a variable": "{% include target %}",
        "absolute import": f'{{% import "{absolute}" as s %}}{{{{ s.m() }}}}',
        "../ import": f'{{% import "{relative}" as s %}}{{{{ s.m() }}}}',
        "from-import": f'{{% from "{relative}" import m %}}{{{{ m() }}}}',
        "from-import of a variable": "{% from target import m %}{{ m() }}",
        "extends": f'{{% extends "{relative}" %}}',
        "absolute extends": f'{{% extends "{absolute}" %}}',
        "extends of a variable": "{% extends target %}",
    }


@pytest.mark.parametrize("payload", list(payloads(Path("/x"))))
def test_naming_a_file_outside_templates_is_refused_with_a_position(write_templates, tmp_path, secret_file, payload):
    body = payloads(secret_file)[payload]
    root = write_templates({"t.html": page("<p>line two</p>\n" + body), "partials/ok.html": "ok"})
    tailor = tailor_for(root, tmp_path)
    problems = [p for p in tailor.check() if p.path.endswith("t.html")]
    assert problems, f"tailor check accepted {payload}"
    # front matter is 3 lines, then <!doctype>, <p>, then the payload: line 6
    assert (problems[0].line, problems[0].col) == (6, 1), str(problems[0])
    assert SECRET not in "".join(str(p) for p in problems)
    with pytest.raises(TemplateBroken) as err:
        tailor.render("t", profile={"id": "u1"}, context={"target": "../outside/secrets.html"})
    assert SECRET not in str(err.value)


def test_symlink_out_of_templates_is_refused(write_templates, tmp_path, secret_file):
    root = write_templates({"t.html": page('{% include "partials/evil.html" %}'), "partials/.keep": ""})
    (root / "partials" / "evil.html").symlink_to(secret_file)
    tailor = tailor_for(root, tmp_path)
    (problem,) = [p for p in tailor.check() if p.path.endswith("t.html")]
    assert (problem.line, problem.col) == (5, 1) and "outside the templates folder" in problem.message
    with pytest.raises(TemplateBroken):
        tailor.render("t", profile={"id": "u1"})


@pytest.mark.parametrize(
    "tag",
    ['{% import "partials/evil.html" as s %}{{ s.m() }}', '{% extends "partials/evil.html" %}'],
)
def test_symlink_out_through_import_and_extends_is_refused(write_templates, tmp_path, secret_file, tag):
    root = write_templates({"t.html": page(tag), "partials/.keep": ""})
    (root / "partials" / "evil.html").symlink_to(secret_file)
    tailor = tailor_for(root, tmp_path)
    (problem,) = [p for p in tailor.check() if p.path.endswith("t.html")]
    assert "outside the templates folder" in problem.message


def test_symlinked_template_and_block_are_refused(write_templates, tmp_path, secret_file):
    root = write_templates({"ok.html": page("{% slot 'hero' default='hero/evil' %}"), "blocks/hero/.keep": ""})
    (root / "leak.html").symlink_to(secret_file)
    (root / "blocks" / "hero" / "evil.html").symlink_to(secret_file)
    tailor = tailor_for(root, tmp_path)
    problems = tailor.check()
    leak = [p for p in problems if p.path.endswith("leak.html")]
    block = [p for p in problems if p.path.endswith("ok.html")]
    assert leak and "outside the templates folder" in leak[0].message
    assert block and (block[0].line, block[0].col) == (5, 1) and "outside the templates folder" in block[0].message
    for name in ("leak", "ok"):
        with pytest.raises(TemplateBroken) as err:
            tailor.render(name, profile={"id": "u1"})
        assert SECRET not in str(err.value)


def test_runtime_loader_refuses_symlinks_out(tmp_path, secret_file):
    """The Jinja loader used at render time (import/extends) follows the same rule."""
    root = tmp_path / "templates"
    (root / "partials").mkdir(parents=True)
    (root / "partials" / "evil.html").symlink_to(secret_file)
    (root / "partials" / "ok.html").write_text("{% macro m() %}fine{% endmacro %}", encoding="utf-8")
    env = make_environment(root, autoescape=True)
    assert render_capped(env.from_string('{% import "partials/ok.html" as s %}{{ s.m() }}'), {}) == "fine"
    for name in ("partials/evil.html", str(secret_file), "/partials/../../outside/secrets.html"):
        with pytest.raises(Exception) as err:  # TemplateNotFound (or Jinja's own refusal of "..")
            render_capped(env.from_string(f'{{% import "{name}" as s %}}{{{{ s.m() }}}}'), {})
        assert SECRET not in str(err.value)


def test_includes_inside_templates_still_work(write_templates, tmp_path):
    root = write_templates(
        {
            "t.html": page('{% include "partials/a.html" %}{% import "partials/m.html" as m %}{{ m.hi() }}'),
            "partials/a.html": "<p>included</p>",
            "partials/m.html": "{% macro hi() %}<p>macro</p>{% endmacro %}",
        }
    )
    tailor = tailor_for(root, tmp_path)
    assert [p for p in tailor.check() if p.path.endswith("t.html")] == []
    html = tailor.render("t", profile={"id": "u1"}).html
    assert "included" in html and "macro" in html


def test_subject_setting_cannot_name_a_file_outside(write_templates, tmp_path, secret_file):
    root = write_templates({"t.html": f"---\nsubject: \"{{% include '{secret_file}' %}}\"\n---\n<p>x</p>\n"})
    tailor = tailor_for(root, tmp_path)
    (problem,) = [p for p in tailor.check() if p.path.endswith("t.html")]
    assert problem.message.startswith("subject: include:") and "outside the templates folder" in problem.message
    with pytest.raises(TemplateBroken) as err:
        tailor.render("t", profile={"id": "u1"})
    assert SECRET not in str(err.value)
