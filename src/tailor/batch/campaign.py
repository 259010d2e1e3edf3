"""A campaign render: the audience split into chunks, each chunk rendered by one Dask task.

Each worker process builds its own :class:`~tailor.Tailor` from the settings (templates
compile once per worker) and writes its emails straight to the output folder; only a
small summary per recipient travels back to the client. Rendering holds the GIL, so
processes — not threads — are what make it parallel.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailor.config import Settings
from tailor.problems import Problem, ProblemError

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")

#: one worker's Tailor, built on first use inside the worker process
_WORKER_TAILOR: dict[str, Any] = {}


@dataclass
class BatchSummary:
    template: str
    rendered: int = 0
    aborted: int = 0
    failed: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)
    manifest: Path | None = None


def read_audience(path: Path) -> list[dict[str, Any]]:
    """Recipients from CSV (columns id / email / user_id) or JSON lines (references or profile documents)."""
    path = Path(path)
    recipients: list[dict[str, Any]] = []
    problems: list[Problem] = []
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = set(reader.fieldnames or [])
            if not columns & {"id", "email", "user_id"}:
                raise ProblemError([Problem(str(path), 1, 1, "an audience CSV needs an id, email or user_id column")])
            for row in reader:
                recipients.append({k: v for k, v in row.items() if k in ("id", "email", "user_id") and v})
    else:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(Problem(str(path), lineno, exc.colno, f"malformed JSON: {exc.msg}"))
                continue
            if not isinstance(item, dict):
                problems.append(Problem(str(path), lineno, 1, "each line must be a JSON object"))
                continue
            recipients.append(item)
    if problems:
        raise ProblemError(problems)
    return recipients


def _file_stem(recipient: dict[str, Any], index: int) -> str:
    ref = str(recipient.get("id") or recipient.get("user_id") or "")
    if not ref and recipient.get("email"):
        # never an email address in a file name: a short hash instead
        ref = "r-" + hashlib.sha256(str(recipient["email"]).lower().encode()).hexdigest()[:12]
    return _SAFE.sub("_", ref) or f"recipient-{index}"


def render_chunk(
    settings: Settings,
    template: str,
    chunk: list[tuple[int, dict[str, Any]]],
    out_dir: str,
    at: str | None,
    context: dict[str, Any] | None,
    campaign: str | None = None,
) -> list[dict[str, Any]]:
    """Render one chunk in a worker; write ``<stem>.html``/``.txt``; return one summary per recipient.

    With a ``campaign`` id (``--deliver``) each line also carries what delivery needs:
    the send id ``<campaign>:<stem>``, the address, the preheader.
    """
    from tailor.core import Tailor
    from tailor.email import RenderAborted, TailorError

    key = repr(settings)
    tailor = _WORKER_TAILOR.get(key)
    if tailor is None:
        tailor = _WORKER_TAILOR[key] = Tailor(
            settings.templates, settings.rules, settings.database_url, settings=settings
        )
    out = Path(out_dir)
    results: list[dict[str, Any]] = []
    for index, recipient in chunk:
        stem = _file_stem(recipient, index)
        is_document = "traits" in recipient or "events" in recipient or "consents" in recipient
        try:
            email = tailor.render(
                template,
                profile=recipient if is_document else None,
                recipient=None if is_document else recipient,
                at=at,
                context=context,
                send_id=f"batch-{template}-{stem}",
            )
        except RenderAborted as exc:
            results.append({"recipient": stem, "status": "aborted", "reason": exc.reason})
            continue
        except TailorError as exc:
            results.append({"recipient": stem, "status": "failed", "reason": str(exc)})
            continue
        (out / f"{stem}.html").write_text(email.html, encoding="utf-8")
        (out / f"{stem}.txt").write_text(email.text, encoding="utf-8")
        results.append(
            {
                "recipient": stem,
                "status": "rendered",
                "subject": email.subject,
                "blocks": email.blocks,
                "fallbacks": sorted({f["reason"] for f in email.fallbacks}),
            }
        )
        if campaign is not None:
            results[-1].update(
                send_id=f"{campaign}:{stem}",
                to=email.recipient_email,
                profile_id=email.recipient_id,
                preheader=email.preheader,
                template=email.template,
                marketing=not email.transactional,
            )
    return results


def render_campaign(
    settings: Settings,
    template: str,
    recipients: Iterable[dict[str, Any]],
    out_dir: Path,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    chunk_size: int = 200,
    at: str | None = None,
    context: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    campaign: str | None = None,
) -> BatchSummary:
    """Render ``template`` for every recipient on Dask; ``scheduler`` is a remote address (default: a local cluster)."""
    from dask.distributed import Client, LocalCluster, as_completed

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    indexed = list(enumerate(recipients))
    chunks = [indexed[i : i + chunk_size] for i in range(0, len(indexed), chunk_size)]
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    summary = BatchSummary(template)
    manifest = out_dir / "manifest.jsonl"
    try:
        futures = [
            client.submit(
                render_chunk, settings, template, chunk, str(out_dir.resolve()), at, context, campaign, pure=False
            )
            for chunk in chunks
        ]
        with open(manifest, "w", encoding="utf-8") as fh:
            for future in as_completed(futures):
                lines = future.result()
                for line in lines:
                    fh.write(json.dumps(line) + "\n")
                    status = line["status"]
                    setattr(summary, status, getattr(summary, status) + 1)
                    for reason in line.get("fallbacks", []):
                        summary.fallbacks[reason] = summary.fallbacks.get(reason, 0) + 1
                if progress:
                    progress(len(lines))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    summary.manifest = manifest
    return summary
