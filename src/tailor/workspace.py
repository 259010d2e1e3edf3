"""The Workspace: the marketers' folders (``templates/``, ``rules/``) as tailor reads them.

Everything that reads those folders reads them here, so serving, ``tailor check``, the
studio and ``/healthz`` see the same objects:

- **one change detector** (:class:`~tailor.watch.FolderWatch` over both folders): the
  compiler and the rules reload when it says a file changed;
- **one listing of rule files** (:func:`~tailor.rules.loader.rule_files`) and **one YAML
  loader** (:mod:`tailor.yamlmarks`): every rule file is parsed once, and the slots,
  segments, triggers, experiments and recommendation filters are read from that parse;
- **one current good version** (:class:`RulesVersion`) per reading of ``rules/``: a
  broken edit keeps the last good version serving;
- **one registry of broken edits** (:meth:`Workspace.broken_edits`): a template or the
  rules whose latest edit does not load, with the problems that say why;
- **one check** (:meth:`Workspace.check`): what ``tailor check`` prints.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailor.config import Settings
from tailor.experiments.spec import Experiment, experiments_from
from tailor.monitor.config import MonitorSettings, monitor_from
from tailor.problems import Problem, ProblemError
from tailor.rendering.compiler import CompiledTemplate, Compiler
from tailor.rules.book import RuleBook
from tailor.rules.checks import check_loaded
from tailor.rules.loader import load_documents, read_rule_files, rule_files
from tailor.watch import FolderWatch

if TYPE_CHECKING:
    from tailor.recommendations.filters import BusinessFilters

#: the key of the rules folder in :meth:`Workspace.broken_edits` (templates are keyed by name)
RULES = "rules"


@dataclass(frozen=True)
class RulesVersion:
    """One good reading of ``rules/``: the rule book, the experiments and the recommendation filters."""

    rulebook: RuleBook
    experiments: dict[str, Experiment]
    #: the ``recs:`` section's filters (None: no rule file has one, the defaults apply)
    recs_filters: BusinessFilters | None
    #: what this reading found that does not stop it serving (warnings, a broken experiment)
    problems: tuple[Problem, ...] = ()
    #: ``monitor:``: outcome attribution, the control group, drift thresholds (defaults when absent)
    monitor: MonitorSettings = field(default_factory=MonitorSettings)


@dataclass(frozen=True)
class RulesReading:
    """One reading of ``rules/``: the version it gives (None when an error stops it) and what it found."""

    version: RulesVersion | None
    #: every problem, sorted (what ``tailor check`` prints for the rules folder)
    problems: list[Problem]
    #: the experiments' share of ``problems`` (the studio's experiments page lists them)
    experiment_problems: list[Problem]


def read_rules(rules_dir: Path, templates_dir: Path | None = None, *, artifacts: Path | None = None) -> RulesReading:
    """Read every rule file once: slots, segments, triggers, experiments and recs filters from one parse.

    An error in the rules or the recommendation filters stops the version (serving keeps
    the last good one); a broken experiment is left out and reported, the others run.
    """
    files = read_rule_files(rule_files(rules_dir))
    loaded = load_documents(files)
    check_loaded(loaded, templates_dir)
    experiments, experiment_problems = experiments_from(files)
    # like a broken experiment, a monitor mistake is reported and its defaults serve
    monitor, monitor_problems = monitor_from(files)
    recs_filters: BusinessFilters | None = None
    recs_problems: list[Problem] = []
    if any(isinstance(f.data, Mapping) and "recs" in f.data for f in files):
        # imported only when used: the recommendations package brings pandas and scikit-learn
        from tailor.recommendations.filters import filters_from

        recs_filters, recs_problems = filters_from(files)
    problems = sorted(set(loaded.problems + experiment_problems + recs_problems + monitor_problems))
    if recs_problems or any(p.severity == "error" for p in loaded.problems):
        return RulesReading(None, problems, experiment_problems)
    book = RuleBook(loaded, artifacts=artifacts)
    version = RulesVersion(book, experiments, recs_filters, tuple(problems), monitor)
    return RulesReading(version, problems, experiment_problems)


class Workspace:
    """The templates and rules folders: their current good version, the broken edits, the check."""

    def __init__(
        self,
        templates: str | Path = "templates",
        rules: str | Path = "rules",
        *,
        inliner: str = "css-inline",
        artifacts: Path | None = None,
        recheck_seconds: float = 1.0,
        compiled_cache: Path | None = None,
    ):
        self.templates_dir = Path(templates)
        self.rules_dir = Path(rules)
        #: where trained segment models are (clustering segments read them)
        self.artifacts = artifacts
        self.watch = FolderWatch((self.templates_dir, self.rules_dir), recheck_seconds)
        self._broken: dict[str, list[Problem]] = {}
        self.compiler = Compiler(
            self.templates_dir,
            inliner=inliner,
            slot_resolver=self._slot_blocks,
            watch=self.watch,
            errors=self._broken,
            cache_dir=compiled_cache,
        )
        self._version: RulesVersion | None = None
        self._rules_stamp: tuple | None = None
        self._reading = RulesReading(None, [], [])
        self._lock = threading.Lock()
        self._default_filters: BusinessFilters | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Workspace:
        return cls(
            settings.templates,
            settings.rules,
            inliner=settings.inliner,
            artifacts=settings.artifacts,
            compiled_cache=settings.compiled_cache,
        )

    # -- the rules folder -------------------------------------------------------------

    def rule_files(self) -> list[Path]:
        """Every rule file (``*.yaml``/``*.yml`` under ``rules/``, recursively)."""
        return rule_files(self.rules_dir)

    def rules(self, *, fresh: bool = False) -> RulesVersion:
        """The current good version of ``rules/``, read again when a file changed.

        Raises :class:`ProblemError` when the rules never loaded; after a broken edit the
        last good version keeps serving and :meth:`broken_edits` says why.
        """
        stamp = self.watch.stamp(fresh=fresh)
        if stamp is not self._rules_stamp and stamp != self._rules_stamp:
            with self._lock:
                if stamp != self._rules_stamp:
                    self._reload(stamp)
        if self._version is None:
            raise ProblemError([p for p in self._reading.problems if p.severity == "error"])
        return self._version

    def _reload(self, stamp: tuple) -> None:
        reading = read_rules(self.rules_dir, self.templates_dir, artifacts=self.artifacts)
        if reading.version is not None:
            self._version = reading.version
            self._broken.pop(RULES, None)
        elif self._version is not None:
            # keep serving the last good rules; `tailor check` and /healthz report the error
            self._broken[RULES] = [p for p in reading.problems if p.severity == "error"]
        self._reading = reading
        self._rules_stamp = stamp

    @property
    def rulebook(self) -> RuleBook:
        return self.rules().rulebook

    @property
    def experiments(self) -> dict[str, Experiment]:
        return self.rules().experiments

    @property
    def monitor(self) -> MonitorSettings:
        return self.rules().monitor

    @property
    def recs_filters(self) -> BusinessFilters:
        """The business filters every recommendation obeys: the rules' ``recs:`` section, or the defaults."""
        declared = self.rules().recs_filters
        if declared is not None:
            return declared
        if self._default_filters is None:
            from tailor.recommendations.filters import BusinessFilters

            self._default_filters = BusinessFilters()
        return self._default_filters

    def reading(self, *, fresh: bool = False) -> RulesReading:
        """The latest reading of the rule files: every problem (errors, warnings, experiments, recs)."""
        with contextlib.suppress(ProblemError):  # the problems are what is asked for
            self.rules(fresh=fresh)
        return self._reading

    def _slot_blocks(self, slot: str) -> tuple[list[str], str | None]:
        """The blocks a slot may show (the rules' and the experiments'), and its default."""
        version = self.rules()
        book = version.rulebook
        trial = [b for e in version.experiments.values() for v in e.variants for s, b in v.blocks.items() if s == slot]
        if slot not in book.slots:
            return trial, None
        return list(dict.fromkeys([*book.blocks_for(slot), *trial])), book.default_for(slot)

    # -- the templates folder ------------------------------------------------------------

    def template_names(self) -> list[str]:
        return self.compiler.names()

    def template(self, name: str) -> CompiledTemplate:
        """The compiled current version of a template (raises ``UnknownTemplate`` or ``ProblemError``)."""
        return self.compiler.get(name)

    # -- what is broken, what check says ---------------------------------------------------

    def broken_edits(self) -> dict[str, list[Problem]]:
        """``{template name or "rules": problems}`` of edits that did not load (the last good version serves)."""
        return {what: list(problems) for what, problems in self._broken.items()}

    def check(self) -> list[Problem]:
        """Every problem in the templates and rules folders as they are now (what ``tailor check`` prints).

        With broken rules, templates are checked against the last good rules (what serves),
        or, when the rules never loaded, with their declared slot defaults only.
        """
        problems = list(self.reading(fresh=True).problems)
        compiler = self.compiler
        if self._version is None:
            compiler = Compiler(
                self.templates_dir, inliner=self.compiler.inliner, slot_resolver=_declared_defaults_only
            )
        for name in compiler.names():
            problems += compiler.check(name)
        from tailor.checks import template_checks  # names, merge tags, mail clients (tailor check only)

        problems += template_checks(compiler, self.rules_dir)
        return sorted(set(problems))


def _declared_defaults_only(slot: str) -> tuple[list[str], Any]:
    return [], None
