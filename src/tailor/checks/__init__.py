"""What ``tailor check`` catches beyond "it compiles": names, foreign merge tags, mail clients.

Called from the check entry point with the templates and rules folders; each check is its
own module and returns ``Problem``s located in the file that holds the mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError

from tailor.checks import mail_clients
from tailor.checks.merge_tags import foreign_name_message, foreign_tags
from tailor.checks.names import NameChecker
from tailor.checks.vocabulary import Vocabulary, context_shape
from tailor.problems import Problem, ProblemError
from tailor.rendering.compiler import Compiler, setting_location, word_pattern
from tailor.rendering.source import TEMPLATE_SUFFIXES, Expanded, TemplateFile

__all__ = ["template_checks", "vocabulary_of"]


def vocabulary_of(rules_dir: Path) -> Vocabulary:
    """The names the shop's rules declare (read even when the rules have errors)."""
    from tailor.experiments import load_experiments
    from tailor.rules.checks import check_loaded
    from tailor.rules.loader import Loaded, load_files, rule_files

    if not Path(rules_dir).is_dir():
        return Vocabulary.build(Loaded())
    loaded = load_files(rule_files(rules_dir))
    check_loaded(loaded)
    if loaded.unreadable:
        # what the unreadable file declares is unknown: check the templates' names against
        # nothing rather than report every trigger, segment and trait it declares
        return Vocabulary.open()
    return Vocabulary.build(loaded, load_experiments(rules_dir)[0].values())


def template_checks(compiler: Compiler, rules_dir: Path) -> list[Problem]:
    """Names, foreign merge tags and mail-client checks of every template (compile errors excluded)."""
    vocabulary = vocabulary_of(rules_dir)
    problems: list[Problem] = []
    # every block of a slot's folder, chosen by a rule today or not (nor by rules with errors)
    compiler = Compiler(compiler.templates_dir, slot_resolver=_every_block(compiler))
    expanded_templates: list[tuple[TemplateFile, Expanded]] = []
    for name in compiler.names():
        try:
            template, expanded = compiler.expand(name)
        except ProblemError:
            continue  # reported by the compile check
        expanded_templates.append((template, expanded))
        problems += name_problems(template, expanded, vocabulary, compiler.html_env)
        problems += foreign_tags(_files_of(template, expanded), vocabulary.profile_fields)
        problems += mail_clients.template_problems(template, expanded)
    problems += mail_clients.undefined_classes(expanded_templates)
    return problems


def name_problems(template: TemplateFile, expanded: Expanded, vocabulary: Vocabulary, env: Any) -> list[Problem]:
    """Unknown names in the page, in each slot block and in the subject and preheader."""
    context = context_shape(template.settings)
    slot_names = list(expanded.slots)
    slot_of = {block: slot for slot, blocks in expanded.slots.items() for block in blocks}
    problems: list[Problem] = []

    def checker(slot: str | None) -> NameChecker:
        names = vocabulary.top_level(template.name, slot_names, context, slot)
        fields = vocabulary.profile_fields
        segments = vocabulary.segments if vocabulary.check_segments else None
        return NameChecker(names, segments, env, foreign=lambda n: foreign_name_message(n, fields))

    for block, piece in expanded.pieces():
        try:
            ast = env.parse(piece.source)
        except TemplateSyntaxError:
            continue  # reported by the compile check
        for finding in checker(slot_of.get(block) if block else None).run(ast.body):
            where = piece.locate_on_line(finding.lineno, word_pattern(finding.text))
            problems.append(Problem(*where, finding.message, finding.severity))
    for key in ("subject", "preheader"):
        source = template.settings.get(key)
        if not isinstance(source, str):
            continue
        try:
            ast = env.parse(source)
        except TemplateSyntaxError:
            continue
        for finding in checker(None).run(ast.body):
            where = setting_location(template, key, finding.text)
            problems.append(Problem(*where, f"{key}: {finding.message}", finding.severity))
    return problems


def _files_of(template: TemplateFile, expanded: Expanded) -> dict[Path, str]:
    files = dict(expanded.files)
    sibling = template.path.with_suffix(".yaml")
    if sibling.is_file():
        files[sibling] = sibling.read_text(encoding="utf-8")
    return files


def _every_block(compiler: Compiler) -> Callable[[str], tuple[list[str], str | None]]:
    chosen = compiler.slot_resolver or (lambda slot: ([], None))

    def resolve(slot: str) -> tuple[list[str], str | None]:
        blocks, default = chosen(slot)
        folder = compiler.templates_dir / "blocks" / slot
        found = (
            sorted(f"{slot}/{p.stem}" for p in folder.iterdir() if p.suffix in TEMPLATE_SUFFIXES)
            if folder.is_dir()
            else []
        )
        return list(dict.fromkeys([*blocks, *found])), default

    return resolve
