"""A second process reuses the compiled templates of the first from the disk cache."""

from __future__ import annotations

from test_compile_once import CONTEXTS, FILES, _ctx

from tailor.rendering.compiler import Compiler
from tailor.rendering.fallbacks import collecting_fallbacks


def _compiler(root, cache):
    return Compiler(root, slot_resolver=lambda slot: (["hero/vip"], "hero/generic"), cache_dir=cache)


def _render_all(compiler):
    compiled = compiler.get("weekly")
    with collecting_fallbacks():
        return [(p.subject, p.preheader, p.html, p.text) for p in (compiled.render(_ctx(c), b) for c, b in CONTEXTS)]


def test_a_second_compiler_renders_the_same_from_disk_without_compiling(write_templates, tmp_path, monkeypatch):
    root, cache = write_templates(FILES), tmp_path / "compiled"
    first = _render_all(_compiler(root, cache))
    assert list(cache.glob("*.compiled")), "the first process stored its compiled version"

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled again although the version was on disk")

    monkeypatch.setattr(Compiler, "_compile", no_compiling)
    assert _render_all(_compiler(root, cache)) == first


def test_an_edit_is_a_new_version_and_a_broken_cache_file_is_a_miss(write_templates, tmp_path):
    root, cache = write_templates(FILES), tmp_path / "compiled"
    _render_all(_compiler(root, cache))
    (root / "blocks/hero/vip.mjml").write_text(
        (root / "blocks/hero/vip.mjml").read_text().replace("Welcome back", "Hello again")
    )
    assert "Hello again" in _render_all(_compiler(root, cache))[0][2]
    assert len(list(cache.glob("*.compiled"))) == 2
    for entry in cache.glob("*.compiled"):
        entry.write_bytes(b"not a compiled template")
    assert "Hello again" in _render_all(_compiler(root, cache))[0][2]


def test_a_cache_folder_that_cannot_be_made_compiles_in_memory(write_templates, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert _render_all(_compiler(write_templates(FILES), blocked / "compiled"))
