"""Champion and challenger: which trained version serves, and how a new one takes over.

The versions live side by side (:mod:`.persistence`); ``rollout.json`` next to them
says which serve::

    {"champion": "20261130T...Z", "challenger": "20261201T...Z", "share": 0.1,
     "history": [{"at": ..., "action": "promote", "version": ..., "previous": ..., "reason": ...}]}

- **Train** (``tailor recs train``) evaluates the new models and the champion on the
  same held-out interactions (:func:`offline_gate`) and saves the new version with
  both results in its manifest. A new version that is worse offline is kept on disk
  but never served.
- **Ramp** serves a challenger to a sticky ``share`` of recipients (a hash of their id),
  an online experiment. The sends log records the model version of each send, so
  ``tailor monitor outcomes`` compares the two online.
- **Promote** makes the challenger (or a named version) the champion.
- **Rollback** makes the previous champion serve again, in one command.
- The running service picks up a change on its own: ``rollout.json`` is re-read
  when its modification time changes, and ``SIGHUP`` reloads as well.

Privacy comes before metrics. After an erasure (``retrain_needed.json``, see
:mod:`tailor.privacy.retrain`), every version trained before it may hold the erased
person. The retrain that follows therefore becomes the champion whatever its metrics.
The versions before it are marked ``erased`` and can never be rolled back to.

Without ``rollout.json`` (an artifacts folder from before this module), the newest
version serves, as it always did.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tailor.vocabulary.times import parse_iso

from .persistence import MANIFEST_FILE, list_versions, load_version

ROLLOUT_FILE = "rollout.json"
#: one JSON line per scheduled evaluation of a serving version (``tailor recs evaluate --serving``)
EVALUATIONS_FILE = "evaluations.jsonl"
#: the "experiment" the challenger share is hashed under (sticky per recipient)
ROLLOUT_BUCKET = "tailor-recs-challenger"
#: the offline metric that gates a promotion
GATE_METRIC = "ndcg@10"


class RolloutError(ValueError):
    """A rollout command that cannot be carried out (unknown version, nothing to roll back to…)."""


@dataclass
class Rollout:
    champion: str | None = None
    challenger: str | None = None
    share: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    #: versions trained before an erasure: never served again
    erased: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "share": self.share,
            "history": self.history,
            "erased": self.erased,
        }


@dataclass
class Serving:
    """What the service loads: the champion's models and, during a ramp, the challenger's."""

    champion: dict[str, Any] | None
    champion_version: str | None
    challenger: dict[str, Any] | None = None
    challenger_version: str | None = None
    share: float = 0.0


def read_rollout(directory: str | os.PathLike[str]) -> Rollout | None:
    path = Path(directory) / ROLLOUT_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Rollout(
        champion=data.get("champion"),
        challenger=data.get("challenger"),
        share=float(data.get("share") or 0.0),
        history=list(data.get("history") or []),
        erased=list(data.get("erased") or []),
    )


def write_rollout(directory: str | os.PathLike[str], rollout: Rollout) -> None:
    """Replace ``rollout.json`` atomically: a reader sees the old file or the new one, never half."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".rollout-", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8") as fh:
        json.dump(rollout.to_dict(), fh, indent=2)
    os.replace(tmp, directory / ROLLOUT_FILE)


def serving(directory: str | os.PathLike[str]) -> Serving | None:
    """The versions to serve, loaded; None when nothing was trained yet."""
    versions = {p.name: p for p in list_versions(directory)}
    if not versions:
        return None
    rollout = read_rollout(directory)
    if rollout is None or rollout.champion not in versions:
        newest = max(versions)
        return Serving(load_version(versions[newest]), newest)
    result = Serving(load_version(versions[rollout.champion]), rollout.champion)
    if rollout.challenger in versions and rollout.share > 0:
        result.challenger = load_version(versions[rollout.challenger])
        result.challenger_version = rollout.challenger
        result.share = rollout.share
    return result


def stamp(directory: str | os.PathLike[str]) -> tuple[int, int] | None:
    """A change detector for ``rollout.json`` (modification time and size)."""
    try:
        stat = (Path(directory) / ROLLOUT_FILE).stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def manifest(directory: str | os.PathLike[str], version: str) -> dict[str, Any]:
    path = Path(directory) / version / MANIFEST_FILE
    if not path.is_file():
        raise RolloutError(f"no trained version {version!r} in {directory}")
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


# -- the commands ------------------------------------------------------------------------


def current(directory: str | os.PathLike[str], *, before: str | None = None) -> Rollout:
    """``rollout.json``, or what is served without it: the newest version (older than ``before``)."""
    rollout = read_rollout(directory)
    if rollout is not None:
        return rollout
    versions = [p.name for p in list_versions(directory) if before is None or p.name < before]
    return Rollout(champion=versions[-1] if versions else None)


def record(rollout: Rollout, action: str, version: str | None, reason: str, **extra: Any) -> None:
    entry = {"at": datetime.now(UTC).isoformat(), "action": action, "version": version, "reason": reason}
    rollout.history.append({**entry, **extra})


def promote(directory: str | os.PathLike[str], version: str | None = None, *, reason: str = "by hand") -> Rollout:
    """Make ``version`` (default: the challenger) the champion; the old champion stays in the history."""
    rollout = current(directory)
    target = version or rollout.challenger
    if target is None:
        raise RolloutError("there is no challenger to promote (name a version)")
    manifest(directory, target)  # exists
    if target in rollout.erased:
        raise RolloutError(f"{target} was trained before an erasure: it may hold erased data and cannot serve")
    record(rollout, "promote", target, reason, previous=rollout.champion)
    rollout.champion = target
    if rollout.challenger == target:
        rollout.challenger, rollout.share = None, 0.0
    write_rollout(directory, rollout)
    return rollout


def ramp(directory: str | os.PathLike[str], share: float, version: str | None = None) -> Rollout:
    """Serve ``version`` (default: the current challenger) to ``share`` of recipients."""
    if not 0 <= share <= 1:
        raise RolloutError(f"the share must lie between 0 and 1, got {share}")
    rollout = current(directory)
    target = version or rollout.challenger
    if target is None:
        raise RolloutError("there is no challenger to ramp (name a version)")
    manifest(directory, target)
    if target in rollout.erased:
        raise RolloutError(f"{target} was trained before an erasure: it may hold erased data and cannot serve")
    if target == rollout.champion:
        raise RolloutError(f"{target} is already the champion")
    record(rollout, "ramp", target, f"{share:.0%} of recipients", share=share)
    rollout.challenger, rollout.share = target, share
    write_rollout(directory, rollout)
    return rollout


def rollback(directory: str | os.PathLike[str]) -> Rollout:
    """Stop any challenger and serve the champion before the current one again."""
    rollout = current(directory)
    if rollout.challenger is not None:
        record(rollout, "rollback", rollout.challenger, "challenger stopped", previous=rollout.champion)
        rollout.challenger, rollout.share = None, 0.0
        write_rollout(directory, rollout)
        return rollout
    previous = next(
        (
            entry.get("previous")
            for entry in reversed(rollout.history)
            if entry.get("action") == "promote" and entry.get("version") == rollout.champion
        ),
        None,
    )
    if previous is None:
        raise RolloutError("nothing to roll back to: the champion was never promoted over another version")
    if previous in rollout.erased:
        raise RolloutError(f"{previous} was trained before an erasure: it may hold erased data and cannot serve")
    manifest(directory, previous)
    record(rollout, "rollback", previous, "back to the previous champion", previous=rollout.champion)
    rollout.champion = previous
    write_rollout(directory, rollout)
    return rollout


def adopt(
    directory: str | os.PathLike[str],
    version: str,
    *,
    passed: bool,
    detail: str,
    ramp_share: float = 0.0,
    erasure: bool = False,
) -> Rollout:
    """What ``tailor recs train`` does with the version it just saved.

    The first version, or a retrain after an erasure, becomes the champion outright.
    One that passed the offline gate becomes the champion, or the challenger at
    ``ramp_share`` when that is above 0. One that failed is recorded and not served.
    """
    rollout = current(directory, before=version)
    if rollout.champion is None:
        record(rollout, "promote", version, "first trained version", previous=None)
        rollout.champion = version
    elif erasure:
        earlier = [p.name for p in list_versions(directory) if p.name < version]
        rollout.erased = sorted(set(rollout.erased) | set(earlier))
        record(rollout, "promote", version, f"retrained after an erasure ({detail})", previous=rollout.champion)
        rollout.champion, rollout.challenger, rollout.share = version, None, 0.0
    elif not passed:
        record(rollout, "reject", version, detail)
    elif ramp_share > 0:
        record(rollout, "ramp", version, f"{detail}; {ramp_share:.0%} of recipients", share=ramp_share)
        rollout.challenger, rollout.share = version, ramp_share
    else:
        record(rollout, "promote", version, detail, previous=rollout.champion)
        rollout.champion = version
    write_rollout(directory, rollout)
    return rollout


def record_evaluation(directory: str | os.PathLike[str], entry: dict[str, Any]) -> None:
    """Append one evaluation (``at``, ``version``, ``role``, metrics) to the history."""
    path = Path(directory) / EVALUATIONS_FILE
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")


def evaluations(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every recorded evaluation, oldest first (a version's metrics over time)."""
    path = Path(directory) / EVALUATIONS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def age(directory: str | os.PathLike[str], version: str) -> timedelta | None:
    """How long ago ``version`` was trained (its manifest's ``created_at``)."""
    created = manifest(directory, version).get("created_at")
    if not created:
        return None
    return datetime.now(UTC) - parse_iso(str(created))


def kept(directory: str | os.PathLike[str]) -> set[str]:
    """Versions pruning must keep: the champion, the challenger and every earlier champion to roll back to."""
    rollout = read_rollout(directory)
    if rollout is None:
        return set()
    names = {rollout.champion, rollout.challenger}
    names |= {entry.get("previous") for entry in rollout.history if entry.get("action") == "promote"}
    return {n for n in names if n} - set(rollout.erased)


def offline_gate(result: dict[str, Any], tolerance: float = 0.0) -> tuple[bool, str]:
    """Whether a candidate may replace the champion, from :func:`~.evaluation.compare_on_holdout`.

    It may when its :data:`GATE_METRIC` is not worse than the champion's by more than
    ``tolerance``, when there is no champion to compare with, or when no user had
    enough interactions to hold some out (a tiny shop: there is nothing to measure).
    """
    new = result["challenger"]
    old = result.get("champion")
    metric = f"{result['model']} {GATE_METRIC}"
    if not new.get("users"):
        return True, f"{metric}: no user with enough interactions to hold out; not compared"
    if old is None:
        return True, f"{metric} {new[GATE_METRIC]:.4f} (no champion to compare with)"
    passed = new[GATE_METRIC] >= old[GATE_METRIC] - tolerance
    verdict = "not worse than" if passed else "worse than"
    whose = (
        "the champion's configuration refitted on the same data" if result.get("champion_refit") else "the champion's"
    )
    return passed, f"{metric} {new[GATE_METRIC]:.4f} {verdict} {whose} {old[GATE_METRIC]:.4f}"
