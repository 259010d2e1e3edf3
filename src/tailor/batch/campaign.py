"""A campaign render: the audience streamed in partitions, one Dask task and one shard per partition.

The pipeline, and why each step is shaped the way it is:

1. **The audience streams.** :func:`iter_audience` reads a CSV or JSON-lines file a line
   at a time; a segment campaign pages through the store's profile ids. The client never
   holds more than the partitions in flight (``2 × workers + 2``), so its memory does not
   grow with the audience.
2. **One task per partition.** Each worker process builds its :class:`~tailor.Tailor`
   once (templates compiled, rules loaded, recommender fitted) and keeps it for every
   partition it is given. A partition's stored profiles come in two queries
   (:meth:`~tailor.store.Store.load_profiles`: the profiles, then their events) and its
   suppressions in one; the renders then make no query of their own
   (:func:`tailor.core.preloaded`). Exposures are written once per partition.
3. **One shard per partition.** The rendered emails go to ``part-NNNNNN.parquet`` (or
   ``.jsonl``) under the output URL — a local folder or any fsspec URL (``s3://``,
   ``gs://``, ``memory://``…): a million recipients are a few hundred files, not two
   million. A shard is written under a temporary name and renamed when complete; then a
   done marker ``_done/part-NNNNNN.json`` (counts and who was skipped, and why) records
   the partition as finished.
4. **Resumable.** A re-run with the same ``--out`` reads ``campaign.json`` (template,
   send time, partition size, send-id prefix: the first run's, so a resumed campaign
   renders as if it had never stopped) and skips every partition with a done marker; a
   partition killed half-way is rendered again from the start and its shard replaced. So
   after any number of kills, each recipient is in exactly one shard.

Rendering holds the GIL, so processes — not threads — are what make it parallel.
:func:`iter_rendered` reads the finished shards back for a delivery step.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tailor.config import Settings
from tailor.problems import Problem, ProblemError
from tailor.profile import fitted_id

#: shard formats: Parquet (columnar, compressed: the default) or JSON lines
FORMATS = ("parquet", "jsonl")
RUN_FILE = "campaign.json"
DONE_DIR = "_done"
#: the columns of a shard, in order (``blocks`` is slot → block, ``fallbacks`` the reasons)
RECORD_FIELDS = ("recipient", "profile_id", "send_id", "subject", "preheader", "html", "text", "blocks", "fallbacks")
#: rows per Parquet row group: what a worker holds before writing (≈ 100 × the HTML size)
ROW_GROUP = 100
_REFERENCE_KEYS = ("id", "email", "user_id", "anonymous_id")
_SAFE = re.compile(r"[^A-Za-z0-9_.@-]+")

#: one worker's Tailor, built on first use inside the worker process
_WORKER_TAILOR: dict[str, Any] = {}


@dataclass
class BatchSummary:
    template: str
    rendered: int = 0
    aborted: int = 0
    failed: int = 0
    #: segment campaigns: stored profiles looked at that are not in the segment
    outside_segment: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)
    partitions: int = 0
    #: partitions a previous (interrupted) run had finished, not rendered again
    resumed: int = 0
    out_url: str = ""

    def add(self, done: dict[str, Any]) -> None:
        for status in ("rendered", "aborted", "failed", "outside_segment"):
            setattr(self, status, getattr(self, status) + int(done.get(status, 0)))
        for reason, count in done.get("fallbacks", {}).items():
            self.fallbacks[reason] = self.fallbacks.get(reason, 0) + count
        self.partitions += 1


@dataclass(frozen=True)
class CampaignRun:
    """What ``campaign.json`` records: everything a resumed run must do the same way."""

    template: str
    at: str
    partition_size: int
    format: str
    send_prefix: str
    audience: str
    context: dict[str, Any] | None = None


# -- the audience ------------------------------------------------------------------


def iter_audience(path: str | Path) -> Iterator[dict[str, Any]]:
    """Recipients from CSV (columns id / email / user_id) or JSON lines (references or profile documents), streamed.

    Raises :class:`ProblemError` (``path:line:col``) at the first bad line; :func:`check_audience`
    finds them all before a campaign starts.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        if path.suffix == ".csv":
            reader = csv.DictReader(fh)
            if not set(reader.fieldnames or []) & {"id", "email", "user_id"}:
                raise ProblemError([Problem(str(path), 1, 1, "an audience CSV needs an id, email or user_id column")])
            for row in reader:
                yield {k: v for k, v in row.items() if k in ("id", "email", "user_id") and v}
            return
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            item, problem = _json_line(str(path), lineno, line)
            if problem is not None:
                raise ProblemError([problem])
            yield item


def check_audience(path: str | Path, max_problems: int = 20) -> int:
    """Count an audience file's recipients (for the progress bar) and report its bad lines, in one streamed pass."""
    path = Path(path)
    if path.suffix == ".csv":
        return sum(1 for _ in iter_audience(path))
    problems: list[Problem] = []
    count = 0
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            _, problem = _json_line(str(path), lineno, line)
            if problem is not None:
                problems.append(problem)
                if len(problems) >= max_problems:
                    break
            count += 1
    if problems:
        raise ProblemError(problems)
    return count


def _json_line(path: str, lineno: int, line: str) -> tuple[dict[str, Any], Problem | None]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return {}, Problem(path, lineno, exc.colno, f"malformed JSON: {exc.msg}")
    if not isinstance(item, dict):
        return {}, Problem(path, lineno, 1, "each line must be a JSON object")
    return item, None


def partitions(recipients: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Consecutive lists of ``size`` recipients (the last one shorter), pulled lazily."""
    iterator = iter(recipients)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def recipient_key(recipient: dict[str, Any], index: int) -> str:
    """A stable name for a recipient (send ids, skip lists): its id, else a hash of its address — never the address.

    An id of other characters than ``[A-Za-z0-9_.@-]`` keeps a readable form and gets a
    hash of the id itself after a ``~`` (which no plain id holds): the readable form alone
    once named "山田" and "鈴木" both ``_``, and "u/1", "u 1" and "u_1" all ``u_1`` — one
    send id, so the journal sent the first of them and skipped the others as repeats.
    """
    ref = str(recipient.get("id") or recipient.get("user_id") or recipient.get("anonymous_id") or "")
    if not ref and recipient.get("email"):
        ref = "r-" + hashlib.sha256(str(recipient["email"]).lower().encode()).hexdigest()[:12]
    key = _SAFE.sub("_", ref)
    if key != ref:
        key = f"{key[:64]}~{hashlib.sha256(ref.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"
    return key or f"recipient-{index}"


def _is_document(recipient: dict[str, Any]) -> bool:
    """A profile document rendered as given (no store lookup), rather than a reference to a stored profile."""
    return "traits" in recipient or "events" in recipient or "consents" in recipient


# -- one partition, in a worker -------------------------------------------------------


@dataclass(frozen=True)
class PartitionJob:
    settings: Settings
    run: CampaignRun
    out_url: str
    index: int
    #: a segment campaign: render only the members of this segment
    segment: str | None
    recipients: list[dict[str, Any]]


def shard_name(index: int, fmt: str) -> str:
    return f"part-{index:06d}.{fmt}"


def done_name(index: int) -> str:
    return f"{DONE_DIR}/part-{index:06d}.json"


def _worker_tailor(settings: Settings) -> Any:
    from tailor.core import Tailor

    key = repr(settings)
    tailor = _WORKER_TAILOR.get(key)
    if tailor is None:
        tailor = Tailor(settings.templates, settings.rules, settings.database_url, settings=settings)
        tailor.warm()  # templates, rules and the recommender once per worker, not per partition
        _WORKER_TAILOR[key] = tailor
    return tailor


def render_partition(job: PartitionJob) -> dict[str, Any]:
    """Render one partition into its shard and done marker; return the marker (counts, skips)."""
    from fsspec.core import url_to_fs

    from tailor.core import parse_at, preloaded
    from tailor.email import RenderAborted, TailorError
    from tailor.experiments.exposures import exposure_rows
    from tailor.monitor.sends import record_sends, send_row_of

    fs, root = url_to_fs(job.out_url)
    done_path = f"{root}/{done_name(job.index)}"
    if fs.exists(done_path):  # a task retried after its first attempt finished
        with fs.open(done_path, "rb") as fh:
            return dict(json.load(fh))
    tailor = _worker_tailor(job.settings)
    run = job.run
    at = parse_at(run.at)
    store = tailor.store
    keys = [recipient_key(r, job.index * run.partition_size + i) for i, r in enumerate(job.recipients)]
    loading: AbstractContextManager[None] = nullcontext()
    documents = [r for r in job.recipients if _is_document(r)]
    stored: dict[str, dict[str, Any]] = {}
    if store is not None:
        refs = [r for r in job.recipients if not _is_document(r)]
        profiles = store.load_profiles(
            [str(r["id"]) for r in refs if r.get("id")]
            + [str(r["anonymous_id"]) for r in refs if r.get("anonymous_id")],
            emails=[str(r["email"]) for r in refs if r.get("email")],
            user_ids=[str(r["user_id"]) for r in refs if r.get("user_id")],
        )
        stored = {d["id"]: d for d in profiles.values()}  # one profile can be named by id and by address
        suppressions = store.suppressions(
            [d["id"] for d in profiles.values()] + [str(d["id"]) for d in documents],
            emails=[d["email"] for d in [*profiles.values(), *documents] if d.get("email")],
        )
        loading = preloaded(profiles, suppressions)
    # the partition's recommendation histories scored in one product, not one per recipient
    scoring = tailor.prescored(run.template, [*stored.values(), *documents])
    marker: dict[str, Any] = {
        "partition": job.index,
        "first": keys[0] if keys else None,
        "last": keys[-1] if keys else None,
        "recipients": len(job.recipients),
        "rendered": 0,
        "aborted": 0,
        "failed": 0,
        "outside_segment": 0,
        "fallbacks": {},
        "skipped": [],
    }
    exposures: list[dict[str, Any]] = []
    sends: list[dict[str, Any]] = []  # the sends log, written for the whole partition like the exposures

    def rendered() -> Iterator[dict[str, Any]]:
        for recipient, key in zip(job.recipients, keys, strict=True):
            is_document = _is_document(recipient)
            # from what the partition loaded: no query
            doc = recipient if is_document else tailor.load_profile(recipient)
            if job.segment is not None and (doc is None or job.segment not in tailor.segments_of(doc, at)):
                marker["outside_segment"] += 1
                continue
            send_id = fitted_id(f"{run.send_prefix}-{key}")  # a long campaign name and id together fit too
            try:
                email = tailor.render(
                    run.template,
                    profile=recipient if is_document else None,
                    recipient=None if is_document else recipient,
                    at=at,
                    context=run.context,
                    send_id=send_id,
                    record_exposure=False,  # recorded for the whole partition below
                    explain=False,  # a send: why rules did not match is nobody's to read, and costs
                )
            except RenderAborted as exc:
                marker["aborted"] += 1
                marker["skipped"].append({"recipient": key, "status": "aborted", "reason": exc.reason})
                continue
            except TailorError as exc:
                marker["failed"] += 1
                marker["skipped"].append({"recipient": key, "status": "failed", "reason": str(exc)})
                continue
            marker["rendered"] += 1
            reasons = sorted({f["reason"] for f in email.fallbacks})
            for reason in reasons:
                marker["fallbacks"][reason] = marker["fallbacks"].get(reason, 0) + 1
            # an unknown recipient renders the defaults: its reference still names it
            profile_id = str((doc or {}).get("id") or recipient.get("id") or recipient.get("user_id") or "") or None
            if email.recipient_id:
                sends.append(send_row_of(email, send_id, at))
            if profile_id:
                exposures.extend(exposure_rows(email.experiments, profile_id, email.template, send_id))
            yield {
                "recipient": (doc or recipient).get("email") or recipient.get("email"),
                "profile_id": profile_id,
                "send_id": send_id,
                "subject": email.subject,
                "preheader": email.preheader,
                "html": email.html,
                "text": email.text,
                "blocks": dict(email.blocks),
                "fallbacks": reasons,
            }

    with loading, scoring:
        write_shard(fs, f"{root}/{shard_name(job.index, run.format)}", run.format, rendered())
    if store is not None:
        # one write for the partition, idempotent per (person, send id): a redone partition adds none
        record_sends(store, sends, exposures)
    _write_atomically(fs, done_path, json.dumps(marker).encode())
    return marker


# -- shards -----------------------------------------------------------------------------


def _arrow_schema() -> Any:
    import pyarrow as pa

    text = pa.string()
    return pa.schema(
        [
            ("recipient", text),
            ("profile_id", text),
            ("send_id", text),
            ("subject", text),
            ("preheader", text),
            ("html", text),
            ("text", text),
            ("blocks", pa.map_(text, text)),
            ("fallbacks", pa.list_(text)),
        ]
    )


def write_shard(fs: Any, path: str, fmt: str, records: Iterable[dict[str, Any]]) -> None:
    """Write ``records`` to ``path`` through a temporary name, renamed once complete (a reader never sees half)."""
    temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with fs.open(temporary, "wb") as fh:
            if fmt == "jsonl":
                for record in records:
                    fh.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
            else:
                _write_parquet(fh, records)
        fs.mv(temporary, path)
    finally:
        if fs.exists(temporary):
            fs.rm(temporary)


def _write_parquet(fh: Any, records: Iterable[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema()
    with pq.ParquetWriter(fh, schema, compression="zstd") as writer:
        iterator = iter(records)
        while group := list(itertools.islice(iterator, ROW_GROUP)):
            rows = [{**r, "blocks": list(r["blocks"].items())} for r in group]
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))


def _write_atomically(fs: Any, path: str, data: bytes) -> None:
    temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    with fs.open(temporary, "wb") as fh:
        fh.write(data)
    fs.mv(temporary, path)


def iter_rendered(out_url: str) -> Iterator[dict[str, Any]]:
    """Every rendered email of a campaign's finished partitions, shard by shard, a row group at a time.

    Each record has ``recipient`` (the address), ``profile_id``, ``send_id`` (stable across
    re-runs: a delivery journal keys on it), ``subject``, ``preheader``, ``html``,
    ``text``, ``blocks``, ``fallbacks`` and ``headers`` (empty here: a delivery step adds
    its own, e.g. ``List-Unsubscribe``). Only partitions with a done marker are read, so a
    campaign still running (or killed) yields each of its finished recipients once.
    """
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(out_url)
    run = read_run(fs, root)
    if run is None:
        raise ProblemError([Problem(out_url, 0, 0, f"not a campaign output: no {RUN_FILE}")])
    for index in sorted(done_partitions(fs, root)):
        with fs.open(f"{root}/{shard_name(index, run.format)}", "rb") as fh:
            if run.format == "jsonl":
                for line in io.TextIOWrapper(fh, encoding="utf-8"):
                    yield {**json.loads(line), "headers": {}}
                continue
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(fh).iter_batches(batch_size=ROW_GROUP):
                for row in batch.to_pylist():
                    yield {**row, "blocks": dict(row["blocks"] or []), "headers": {}}


def done_partitions(fs: Any, root: str) -> dict[int, str]:
    """``{partition index: done-marker path}`` of the finished partitions."""
    found: dict[int, str] = {}
    if not fs.exists(f"{root}/{DONE_DIR}"):
        return found
    for path in fs.ls(f"{root}/{DONE_DIR}", detail=False):
        match = re.search(r"part-(\d+)\.json$", str(path))
        if match:
            found[int(match.group(1))] = str(path)
    return found


def read_run(fs: Any, root: str) -> CampaignRun | None:
    path = f"{root}/{RUN_FILE}"
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as fh:
        return CampaignRun(**json.load(fh))


# -- the client ---------------------------------------------------------------------------


def open_run(fs: Any, root: str, requested: CampaignRun, *, named: bool = False) -> CampaignRun:
    """The run to carry out: ``requested`` for a new output, else the stored one (which must agree).

    ``named``: the send-id prefix is the caller's campaign id, so it must agree too.
    """
    stored = read_run(fs, root)
    if stored is None:
        fs.makedirs(f"{root}/{DONE_DIR}", exist_ok=True)
        _write_atomically(fs, f"{root}/{RUN_FILE}", json.dumps(asdict(requested), indent=2).encode())
        return requested
    differs = [
        name
        for name in (
            "template",
            "partition_size",
            "format",
            "audience",
            "context",
            *(("send_prefix",) if named else ()),
        )
        if getattr(stored, name) != getattr(requested, name)
    ]
    if differs:
        raise ProblemError(
            [
                Problem(
                    f"{root}/{RUN_FILE}",
                    0,
                    0,
                    f"this output holds another campaign (different {', '.join(differs)}): "
                    "resume it with the same options or choose a new --out",
                )
            ]
        )
    return stored


def run_campaign(
    settings: Settings,
    template: str,
    recipients: Iterable[dict[str, Any]],
    out_url: str,
    *,
    audience: str,
    segment: str | None = None,
    scheduler: str | None = None,
    client: Any = None,
    workers: int = 2,
    partition_size: int = 500,
    fmt: str = "parquet",
    at: str | None = None,
    context: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    campaign: str | None = None,
) -> BatchSummary:
    """Render ``template`` for every recipient on Dask: on ``client`` (a Dask client the caller keeps), or
    on the scheduler at ``scheduler``, or on a local cluster of ``workers`` processes started for this run.

    ``recipients`` is consumed lazily, a partition at a time; ``audience`` names it in
    ``campaign.json`` (a resumed run must name the same). ``at`` defaults to now — the
    first run's now, when resuming. ``campaign`` (an id, for ``--deliver``) is the send-id
    prefix, so a delivery journal sends each recipient at most once per campaign id, even
    into a new output folder.
    """
    from dask.distributed import Client, as_completed
    from fsspec.core import url_to_fs

    from tailor.core import parse_at

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    fs, root = url_to_fs(out_url)
    send_at = parse_at(at).isoformat().replace("+00:00", "Z")
    requested = CampaignRun(
        template=template,
        at=send_at,
        partition_size=partition_size,
        format=fmt,
        send_prefix=campaign or f"{template}-{uuid.uuid4().hex[:10]}",
        audience=audience,
        context=context,
    )
    run = open_run(fs, root, requested, named=campaign is not None)
    # absolute, with its protocol: a worker elsewhere must not read "out" against its own folder
    shard_url = fs.unstrip_protocol(root)
    if at is not None and parse_at(at) != parse_at(run.at):
        raise ProblemError([Problem(f"{root}/{RUN_FILE}", 0, 0, f"this output's campaign is sent at {run.at}")])
    _remove_leftovers(fs, root)
    done = done_partitions(fs, root)
    summary = BatchSummary(template, out_url=out_url)
    cluster = None
    own_client = client is None
    if own_client and scheduler:
        client = Client(scheduler)
    elif own_client:
        cluster = local_cluster(workers)
        client = Client(cluster)
    in_flight_limit = 2 * max(1, len(client.scheduler_info().get("workers", {})) or workers) + 2
    running = as_completed()

    def collect(future: Any) -> None:
        marker = future.result()
        summary.add(marker)
        if progress:
            progress(int(marker["recipients"]))
        future.release()

    try:
        for index, part in enumerate(partitions(recipients, run.partition_size)):
            if index in done:
                marker = _read_marker(fs, done[index])
                _check_same_partition(marker, part, index, run.partition_size)
                summary.add(marker)
                summary.resumed += 1
                if progress:
                    progress(len(part))
                continue
            while running.count() >= in_flight_limit:
                collect(next(running))
            job = PartitionJob(settings, run, shard_url, index, segment, part)
            running.add(client.submit(render_partition, job, key=f"campaign-{run.send_prefix}-{index}", pure=False))
        for future in running:
            collect(future)
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
    return summary


def local_cluster(workers: int, *, processes: bool = True) -> Any:
    """A Dask cluster on this machine for campaigns: one single-threaded process per worker (rendering holds the GIL).

    Its scheduler runs in this process, where Dask by default keeps its last 1,000 messages to
    each worker for debugging — 1,000 partitions of recipients: the log is kept short so the
    client's memory stays flat.
    """
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set({"distributed.admin.low-level-log-length": 16}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None)


def _read_marker(fs: Any, path: str) -> dict[str, Any]:
    with fs.open(path, "rb") as fh:
        return dict(json.load(fh))


def _check_same_partition(marker: dict[str, Any], part: list[dict[str, Any]], index: int, size: int) -> None:
    """A finished partition is skipped only if the audience still puts the same recipients there."""
    first = recipient_key(part[0], index * size)
    last = recipient_key(part[-1], index * size + len(part) - 1)
    if (marker.get("first"), marker.get("last"), marker.get("recipients")) != (first, last, len(part)):
        raise ProblemError(
            [
                Problem(
                    "audience",
                    0,
                    0,
                    f"partition {index} no longer holds the recipients it was rendered for: the audience "
                    "changed since this campaign started; resume it with the same audience or choose a new --out",
                )
            ]
        )


def _remove_leftovers(fs: Any, root: str) -> None:
    """Temporary files of a killed run (never read: only renamed shards with a done marker count)."""
    for folder in (root, f"{root}/{DONE_DIR}"):
        if fs.exists(folder):
            for path in fs.ls(folder, detail=False):
                if ".tmp-" in str(path).rsplit("/", 1)[-1]:
                    fs.rm(path)
