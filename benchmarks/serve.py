"""The send-time service under load: `tailor serve --workers 2` driven by wrk on loopback.

Starts `tailor serve --workers 2` (gunicorn, sync workers) on a free loopback port over
the example shop loaded into a temporary SQLite store, then drives `POST /v1/render`
for the newsletter (with recommendations) with wrk, rotating over the shop's 640
recipients (the store resolves each one, as at a real send: profile, events, features,
triggers, recommendations, rules, HTML + text). Every request is a fresh render (no
`send_id`, so no idempotency-cache hits).

    python benchmarks/serve.py                       # saturation, then half that rate (open loop)
    python benchmarks/serve.py --fixed 100,300 --duration 30
    python benchmarks/serve.py --soak 300            # 300 s at 200 req/s, worker RSS sampled

What it prints: the saturation throughput (best error-free unpaced row), then p50/p99
and errors at half that rate (open loop: the goal's latency is stated there), and
requests/s × floor, where the floor is the newsletter's bare Jinja render measured in
the same process (1.0 = one core doing nothing but floor renders), so machines and
loaded runs can be compared. Then each goal of issue #15 (≥ 1,000 req/s; p99 ≤ 10 ms at
half that rate), met or not, and the gap's cause in one number: the server's CPU time
per request at saturation (gunicorn and its workers, from /proc) in floors, against the
CPU per request the goal leaves on this machine's cores.

How the load is made. The half-rate and fixed-rate rows are open loop: a small asyncio
client sends request i at t0 + i/rate whatever the server does, and latency counts from
that scheduled time (no coordinated omission). wrk is closed-loop (a connection sends its next request when the
previous answer arrived) and has no fixed-rate mode (that is wrk2). For the paced rows
each of C connections waits a random delay (uniform, mean C/rate) after every answer
(wrk's Lua `delay()`), so the offered load is about `rate` as long as answers are fast
next to the think time; the "achieved" column is what was actually served. The
saturation rows drop the pacing: C connections back to back, at several C — the best
of those is the saturation throughput. wrk runs with one thread on the same 2-core
machine as the 2 workers, so it takes some of the CPU the server would have.

Latencies are wrk's (request written → full answer read, microsecond resolution);
errors are connect/read/write/timeout errors plus any non-2xx answer.

Requires: wrk (Debian/Ubuntu: `apt-get install -y wrk`). Loopback only, bounded in
time: every wrk run has a fixed duration.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AT = "2026-11-23T12:00:00Z"
TOKEN = "bench-token"
SHOP = [ROOT / "fixtures" / "catalog.csv", ROOT / "fixtures" / "profiles.csv", ROOT / "fixtures" / "events.jsonl"]

LUA = (
    textwrap.dedent("""
    -- POST /v1/render for the newsletter, rotating over recipients; optional pacing
    local ids = {}
    for line in io.lines(os.getenv("BENCH_RECIPIENTS")) do ids[#ids + 1] = line end
    local mean_delay = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
    local counter = 0
    local thread_offset = 0

    function setup(thread)
      thread:set("thread_offset", math.random(1, #ids))
    end

    function init(args)
      counter = thread_offset
      math.randomseed(os.time() + thread_offset)
    end

    function request()
      counter = counter + 1
      local id = ids[(counter % #ids) + 1]
      local body = '{"template":"newsletter","recipient":{"id":"' .. id .. '"},"at":"__AT__"}'
      return wrk.format("POST", "/v1/render", {["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer __TOKEN__"}, body)
    end

    if mean_delay > 0 then
      function delay()
        return math.random() * 2 * mean_delay
      end
    end

    function done(summary, latency, requests)
      local e = summary.errors
      io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, '
        .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, '
        .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
    end
""")
    .replace("__AT__", AT)
    .replace("__TOKEN__", TOKEN)
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tailor_command() -> list[str]:
    return [sys.executable, "-c", "from tailor.cli import main; main()"]


def load_shop(database_url: str) -> None:
    """`tailor ingest` the example shop (or the Store API when the command is not there)."""
    env = dict(os.environ, TAILOR_DATABASE_URL=database_url)
    if subprocess.run([*tailor_command(), "ingest", "--help"], capture_output=True).returncode == 0:
        subprocess.run([*tailor_command(), "ingest", *map(str, SHOP)], env=env, check=True, cwd=ROOT)
        return
    sys.path.insert(0, str(ROOT / "src"))
    from tailor.store import Store

    store = Store(database_url)
    store.migrate()
    for path in SHOP:
        store.ingest_file(path)
    store.close()


class Server:
    def __init__(self, workdir: Path, database_url: str, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        env = dict(
            os.environ,
            TAILOR_DATABASE_URL=database_url,
            TAILOR_TEMPLATES=str(ROOT / "templates"),
            TAILOR_RULES=str(ROOT / "rules"),
            TAILOR_API_TOKENS=TOKEN,
            TAILOR_ARTIFACTS=str(workdir / "artifacts"),
            # this checkout's code, whatever the environment's tailor is (a worktree measured beside main)
            PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        )
        # the JSON request log and gunicorn's access log go to a file, not a terminal
        with self.log_path.open("wb") as log:  # the server keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [*tailor_command(), "serve", "--workers", str(workers), "--port", str(self.port)],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"tailor serve exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=10) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"tailor serve not ready after {timeout} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return sorted(pids)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of gunicorn's arbiter and its workers so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in [self.proc.pid, *self.worker_pids()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # a worker that exited meanwhile
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sendable(url: str, ids: list[str]) -> tuple[list[str], int]:
    keep, refused = [], 0
    for rid in ids:
        body = json.dumps({"template": "newsletter", "recipient": {"id": rid}, "at": AT}).encode()
        req = urllib.request.Request(
            f"{url}/v1/render",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                if r.status == 200:
                    keep.append(rid)
        except urllib.error.HTTPError as exc:
            if exc.code != 422:
                raise SystemExit(f"{rid}: HTTP {exc.code}: {exc.read()[:300]!r}") from exc
            refused += 1
    return keep, refused


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_wrk(
    url: str,
    script: Path,
    recipients: Path,
    *,
    connections: int,
    seconds: int,
    delay_ms: float,
    background: bool = False,
):
    env = dict(os.environ, BENCH_RECIPIENTS=str(recipients), BENCH_DELAY_MS=f"{delay_ms:.3f}")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc if background else finish_wrk(proc)


def finish_wrk(proc) -> dict:
    out, _ = proc.communicate()
    line = next((candidate for candidate in out.splitlines() if candidate.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk failed:\n{out}")
    result = json.loads(line[len("BENCH ") :])
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def run_open_loop(url: str, ids: list[str], rate: float, seconds: float) -> dict:
    """Fixed-rate, open-loop load: request i is sent at t0 + i/rate whatever the server does.

    Latency is measured from the *scheduled* send time, so a slow server cannot hide its
    queueing (no coordinated omission). One connection per request, like the sync workers.
    """
    import asyncio

    host, port = url.split("//", 1)[1].split(":")
    latencies: list[float] = []
    errors = 0

    async def one(i: int, scheduled: float, loop) -> None:
        nonlocal errors
        body = json.dumps({"template": "newsletter", "recipient": {"id": ids[i % len(ids)]}, "at": AT}).encode()
        head = (
            f"POST /v1/render HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 10)
            writer.write(head + body)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            if not answer.startswith(b"HTTP/1.1 2") and not answer.startswith(b"HTTP/1.0 2"):
                errors += 1
                return
            latencies.append(loop.time() - scheduled)
        except (TimeoutError, OSError):
            errors += 1

    async def drive() -> float:
        loop = asyncio.get_running_loop()
        tasks = []
        start = loop.time() + 0.05
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled, loop)))
        await asyncio.gather(*tasks)
        return loop.time() - start

    elapsed = asyncio.run(drive())
    ordered = sorted(latencies) or [float("nan")]

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6

    return {
        "requests": len(latencies) + errors,
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "max_us": ordered[-1] * 1e6,
    }


def row(label: str, offered: str, r: dict) -> str:
    return (
        f"| {label:<22} | {offered:>8} | {r['rps']:>8.1f} | {r['p50_us'] / 1000:>7.2f} | {r['p99_us'] / 1000:>7.2f} | "
        f"{r['max_us'] / 1000:>8.2f} | {r['requests']:>8} | {r['errors']:>6} |"
    )


HEADER = (
    "| load                   |  offered | achieved | p50 ms  | p99 ms  |  max ms  | requests | errors |\n"
    "|------------------------|---------:|---------:|--------:|--------:|---------:|---------:|-------:|"
)


def measure_floor() -> float:
    """The floor of ``benchmarks/render.py`` (median µs), measured here so the ratio is of one machine."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.path.insert(0, str(ROOT / "src"))
    from render import floor_us

    return floor_us()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--fixed", default="", help="more fixed rates (req/s) for open-loop rows, comma-separated (e.g. 100,200,300)"
    )
    parser.add_argument("--rates", default="", help="wrk 'paced' rates (closed loop with think time), comma-separated")
    parser.add_argument("--connections", type=int, default=16, help="connections for the paced rows")
    parser.add_argument("--saturation", default="2,4,8,16", help="connection counts for the unpaced rows ('' to skip)")
    parser.add_argument("--duration", type=int, default=20, help="seconds per row")
    parser.add_argument(
        "--soak", type=int, default=0, metavar="SECONDS", help="instead: SECONDS at 200 req/s, sampling worker RSS"
    )
    parser.add_argument("--soak-rate", type=float, default=200.0)
    parser.add_argument("--sample-every", type=float, default=10.0, help="soak: seconds between RSS samples")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")

    with tempfile.TemporaryDirectory(prefix="tailor-bench-") as tmp:
        work = Path(tmp)
        database_url = f"sqlite:///{work / 'tailor.db'}"
        started = time.monotonic()
        load_shop(database_url)
        print(f"# example shop loaded into {database_url} in {time.monotonic() - started:.1f} s", flush=True)
        with open(ROOT / "fixtures" / "profiles.csv", encoding="utf-8") as fh:
            ids = [r["user_id"] for r in csv.DictReader(fh) if r.get("email")]
        recipients = work / "recipients.txt"
        script = work / "render.lua"
        script.write_text(LUA)

        server = Server(work, database_url, args.workers)
        try:
            server.wait_ready()
            url = server.url
            # recipients an abort rule refuses (422: no marketing consent, suppressed, ...) are
            # correct answers, not errors; the load uses the ones that get an email
            ids, refused = sendable(url, ids)
            recipients.write_text("\n".join(ids) + "\n")
            print(
                f"# {len(ids)} recipients get an email; "
                f"{refused} are refused by abort rules (422) and left out of the load",
                flush=True,
            )
            print(
                f"# tailor serve --workers {args.workers} on {url}; "
                f"{len(ids)} recipients; newsletter with recommendations",
                flush=True,
            )
            print(
                f"# machine: {os.cpu_count()} CPUs; load average before the run: "
                f"{Path('/proc/loadavg').read_text().split()[0]} "
                "(other processes on the machine take CPU from the server and wrk)",
                flush=True,
            )
            warm = run_wrk(url, script, recipients, connections=4, seconds=5, delay_ms=0)
            print(f"# warm-up: {warm['requests']} requests, {warm['errors']} errors", flush=True)
            if args.soak:
                soak(server, url, ids, args)
                return
            print(HEADER, flush=True)
            best = None
            for conns in [int(c) for c in args.saturation.split(",") if c]:
                cpu_before = server.cpu_seconds()
                r = run_wrk(url, script, recipients, connections=conns, seconds=args.duration, delay_ms=0)
                r["server_cpu_us"] = (server.cpu_seconds() - cpu_before) / max(r["requests"], 1) * 1e6
                print(row(f"unpaced, {conns} conns", "max", r), flush=True)
                if r["errors"] == 0 and (best is None or r["rps"] > best["rps"]):
                    best = r
            half = None
            if best:
                # the latency goal is stated at half the saturation rate: open loop, so queueing shows
                half = run_open_loop(url, ids, best["rps"] / 2, args.duration)
                print(row("half saturation, open", f"{best['rps'] / 2:.0f}/s", half), flush=True)
            for rate in [float(r) for r in args.fixed.split(",") if r]:
                r = run_open_loop(url, ids, rate, args.duration)
                print(row("fixed rate, open loop", f"{rate:.0f}/s", r), flush=True)
            for rate in [float(r) for r in args.rates.split(",") if r]:
                r = run_wrk(
                    url,
                    script,
                    recipients,
                    connections=args.connections,
                    seconds=args.duration,
                    delay_ms=args.connections * 1000.0 / rate,
                )
                print(row(f"paced, {args.connections} conns", f"{rate:.0f}/s", r), flush=True)
            if best and half:
                print(f"\nsaturation throughput: {best['rps']:.0f} req/s (best error-free unpaced row)")
                print(
                    f"at half that rate ({best['rps'] / 2:.0f} req/s, open loop): p50 {half['p50_us'] / 1000:.2f} ms, "
                    f"p99 {half['p99_us'] / 1000:.2f} ms, {half['errors']} errors"
                )
                floor = measure_floor()
                print(
                    f"requests/s × floor: {best['rps'] * floor / 1e6:.3f} (floor: the newsletter's bare Jinja render, "
                    f"{floor:.0f} µs, measured in this process after the load; 1.0 = one core doing nothing but "
                    "floor renders: compares machines)"
                )
                report_goals(best, half, floor)
            print(f"# load average after the run: {Path('/proc/loadavg').read_text().split()[0]}")
        finally:
            server.stop()


#: the goals of issue #15 for `tailor serve --workers 2` on a quiet 2-core machine
GOAL_RPS, GOAL_P99_MS = 1000.0, 10.0


def report_goals(best: dict, half: dict, floor_us: float) -> None:
    """Each goal, met or not, and the gap's cause: the server CPU a request costs, in floors."""
    cores = os.cpu_count() or 1
    print(f"goal ≥ {GOAL_RPS:,.0f} req/s saturated: {'met' if best['rps'] >= GOAL_RPS else 'not met'}")
    met = half["p99_us"] / 1000 <= GOAL_P99_MS and half["errors"] == 0
    print(f"goal p99 ≤ {GOAL_P99_MS:g} ms at half that rate, 0 errors: {'met' if met else 'not met'}")
    # the cause in one number: what a request costs the server, against what the goal leaves it
    budget_us = cores * 1e6 / GOAL_RPS
    print(
        f"server CPU per request at saturation: {best['server_cpu_us']:,.0f} µs = "
        f"{best['server_cpu_us'] / floor_us:.1f}× the floor; {GOAL_RPS:,.0f} req/s on {cores} cores leaves "
        f"{budget_us:,.0f} µs = {budget_us / floor_us:.1f}× the floor per request for the server and wrk together "
        "(benchmarks/render.py shows where a send's time goes)"
    )


def soak(server: Server, url: str, ids: list[str], args) -> None:
    """``args.soak`` seconds at a fixed ``args.soak_rate`` (open loop), worker RSS sampled meanwhile."""
    import threading

    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(run_open_loop(url, ids, args.soak_rate, args.soak)))
    pids = server.worker_pids()
    print(
        f"# soak: {args.soak} s at {args.soak_rate:.0f} req/s (open loop); worker RSS (MB) every "
        f"{args.sample_every:.0f} s",
        flush=True,
    )
    print("| t (s) | " + " | ".join(f"worker {p}" for p in pids) + " |")
    print("|------:|" + "|".join("---------:" for _ in pids) + "|")
    samples: dict[int, list[float]] = {p: [] for p in pids}
    t0 = time.monotonic()
    runner.start()
    while runner.is_alive():
        for p in pids:
            try:
                samples[p].append(rss_mb(p))
            except OSError:
                samples[p].append(float("nan"))
        print(
            f"| {time.monotonic() - t0:5.0f} | " + " | ".join(f"{samples[p][-1]:9.1f}" for p in pids) + " |", flush=True
        )
        runner.join(args.sample_every)
    print("\n" + HEADER)
    print(row("soak, open loop", f"{args.soak_rate:.0f}/s", result))
    for p in pids:
        series = [s for s in samples[p] if s == s]
        if len(series) >= 2:
            # compare the second sample (after the first minute's caches fill) with the last one
            base = series[min(1, len(series) - 1)]
            print(f"worker {p}: RSS {series[0]:.1f} → {series[-1]:.1f} MB (from sample 2: {series[-1] - base:+.1f} MB)")


if __name__ == "__main__":
    main()
