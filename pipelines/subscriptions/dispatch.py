"""The dispatcher (``lifecycle subscriptions run``): new landing-zone files → canonical events → rules → outbox
→ targets, at least once.

One round: re-read the rules file if it changed; find closed landing files not in the ledger; canonicalise them
(in batches, see canonicalise.py); match every event against the rules; queue one delivery per (target, event) and
mark the files read — in one transaction; then send what is due, each target in its own thread so a slow target
does not hold up the others. A delivery that fails is retried with backoff; after ``delivery.max_attempts``
attempts, or at once on a permanent 4xx, it goes to the target's dead-letter file
(``<state>/dead-letter/<target>.ndjson``) with the event, the attempts and the last error.

The **dedup key** of a delivery is a hash of the target and the event's key — the received event's key for
targets that get the original payload, the canonical event's otherwise — so it is the same on every retry and
after a restart, and an event delivered twice (a producer's retry) is queued once. It is sent as
``X-Lifecycle-Dedup-Key`` (and as the CloudEvent ``id`` of canonical payloads) so receivers can drop repeats.
Several rules sending one event to one target make one delivery (the rules are listed in the dead-letter entry).

On its first run the ledger starts at the landing zone's current end: files already there are recorded as read,
not delivered (months of history in a chat channel help nobody) — unless ``deliver_backlog`` is set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from pipelines import loader
from pipelines.subscriptions import deliver, render
from pipelines.subscriptions.canonicalise import CanonicalEvent, Canonicalised, canonicalise
from pipelines.subscriptions.rules import Rules, RulesError, load_rules, parse_rules, rules_path
from pipelines.subscriptions.store import Delivery, Queued, Store

log = logging.getLogger("lifecycle.subscriptions")

BATCH_FILES = 200
BATCH_BYTES = 32 * 1024 * 1024
PER_TARGET_PER_ROUND = 100
MAX_THREADS = 8
BACKLOG_NOTE = "in the landing zone before the first run (not delivered)"


def dedup_key(target: str, event_key: str) -> str:
    """Stable per (target, event): the same on every retry, after restarts, and for a re-delivered event."""
    return hashlib.sha256(f"{target}\x1f{event_key}".encode()).hexdigest()[:32]


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z") if ts is not None else None


def queue_for(rules: Rules, event: CanonicalEvent) -> list[Queued]:
    """The deliveries one canonical event makes under the rules."""
    queued = []
    for target_name, rule_names in rules.route(event.attributes).items():
        target = rules.targets[target_name]
        key = event.raw_key if target.keys_on_raw_event and event.raw_key else event.key
        queued.append(Queued(dedup_key(target_name, key), target_name, rule_names, event.key,
                             {"attributes": event.attributes, "original": event.original}))
    return queued


@dataclass
class RoundReport:
    files: int = 0
    events: int = 0
    quarantined: int = 0
    queued: int = 0
    backlog_skipped: int = 0
    outcomes: Counter = field(default_factory=Counter)  # delivered / retried / dead_lettered
    canonicalise_seconds: float = 0.0


class DispatcherBusy(RuntimeError):
    """Another dispatcher holds this state directory (two would send everything twice)."""


class Dispatcher:
    def __init__(self, landing: Path, state_dir: Path, rules_file: str | os.PathLike | None = None, *,
                 send: deliver.Sender = deliver.post, clock: Callable[[], float] = time.time,
                 rand: Callable[[], float] = random.random, deliver_backlog: bool = False):
        self.landing = landing
        self.state_dir = state_dir
        self.rules = load_rules(rules_file)
        self.rules_file = rules_path(rules_file)
        self._rules_text = self.rules_file.read_text()
        state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(state_dir / "dispatcher.lock"), timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            raise DispatcherBusy(f"another dispatcher is running on {state_dir}") from None
        self.store = Store(state_dir)
        self.dead_letter_dir = state_dir / "dead-letter"
        self.send, self.clock, self.rand = send, clock, rand
        self.deliver_backlog = deliver_backlog
        self._dead_letter_lock = threading.Lock()

    def close(self) -> None:
        self.store.close()
        self._lock.release()

    # -- rules -----------------------------------------------------------------------------------------------------

    def reload_rules(self) -> bool:
        """Re-read the rules file when its text changed (a small file: comparing the text is cheaper to get right
        than mtimes, which may not change between two quick edits); a broken edit is logged, the previous rules kept."""
        try:
            text = self.rules_file.read_text()
        except OSError as exc:
            log.error(json.dumps({"event": "rules_unreadable", "path": str(self.rules_file), "error": exc.strerror}))
            return False
        if text == self._rules_text:
            return False
        self._rules_text = text
        try:
            self.rules = parse_rules(text, self.rules_file)
        except RulesError as exc:
            log.error(json.dumps({"event": "rules_invalid", "error": str(exc), "kept": "previous rules"}))
            return False
        log.info(json.dumps({"event": "rules_reloaded", "rules": len(self.rules.rules),
                             "targets": sorted(self.rules.targets)}))
        return True

    # -- reading the landing zone ----------------------------------------------------------------------------------

    def new_files(self) -> list[Path]:
        if not self.landing.is_dir():
            return []
        known = self.store.known_files()
        state = self.state_dir.resolve()
        return [p for p in loader.discover([self.landing])
                if self._name(p) not in known and state not in p.resolve().parents]

    def _name(self, path: Path) -> str:
        return str(path.relative_to(self.landing))

    def scan(self, report: RoundReport) -> None:
        files = self.new_files()
        now = self.clock()
        if not self.store.initialised() and not self.deliver_backlog:
            self.store.commit_files([(self._name(p), p.stat().st_size, 0, 0, BACKLOG_NOTE) for p in files], [], now)
            report.backlog_skipped = len(files)
            if files:
                log.info(json.dumps({"event": "backlog_skipped", "files": len(files)}))
            return
        batch: list[Path] = []
        size = 0
        for path in files:
            file_size = path.stat().st_size
            if batch and (len(batch) >= BATCH_FILES or size + file_size > BATCH_BYTES):
                self._process(batch, report)
                batch, size = [], 0
            batch.append(path)
            size += file_size
        if batch:
            self._process(batch, report)

    def _process(self, batch: list[Path], report: RoundReport) -> None:
        result: Canonicalised = canonicalise(batch)
        rules = self.rules
        queued: list[Queued] = []
        events_per_file: Counter = Counter()
        queued_per_file: Counter = Counter()
        for event in result.events:
            deliveries = queue_for(rules, event)
            queued.extend(deliveries)
            events_per_file[event.file] += 1
            queued_per_file[event.file] += len(deliveries)
        entries = [(self._name(p), p.stat().st_size, events_per_file[str(p)], queued_per_file[str(p)], None)
                   for p in batch]
        added = self.store.commit_files(entries, queued, self.clock())
        report.files += len(batch)
        report.events += len(result.events)
        report.quarantined += result.quarantined
        report.queued += added
        report.canonicalise_seconds += result.seconds
        log.info(json.dumps({"event": "files_read", "files": len(batch), "events": len(result.events),
                             "quarantined": result.quarantined, "queued": added,
                             "canonicalise_seconds": round(result.seconds, 3)}))

    # -- delivering ------------------------------------------------------------------------------------------------

    def deliver_due(self, report: RoundReport) -> None:
        due = self.store.due(self.clock(), PER_TARGET_PER_ROUND)
        if not due:
            return
        with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(due)), thread_name_prefix="deliver") as pool:
            for counts in pool.map(lambda item: self._deliver_target(*item), due.items()):
                report.outcomes.update(counts)

    def _deliver_target(self, target_name: str, items: list[Delivery]) -> Counter:
        counts: Counter = Counter()
        rules = self.rules
        target = rules.targets.get(target_name)
        policy = rules.delivery
        for item in items:
            if target is None:
                self._dead_letter(item, None, "the target is no longer in the rules file", attempted=False)
                counts["dead_lettered"] += 1
                continue
            try:
                headers, body = render.render(target, item.event, item.dedup_key, rules.dashboard_url)
            except Exception as exc:  # noqa: BLE001 - one event that cannot be rendered must not stop the others
                detail = str(exc) if isinstance(exc, render.RenderError) else f"{type(exc).__name__}: {exc}"
                self._dead_letter(item, None, f"cannot render: {detail}", attempted=False)
                counts["dead_lettered"] += 1
                continue
            outcome = self.send(target.url, headers, body, policy.timeout_seconds)
            now = self.clock()
            attempt = item.attempts + 1
            if outcome.ok:
                self.store.delivered(item, outcome.status, now)
                counts["delivered"] += 1
                log.info(json.dumps({"event": "delivered", "target": target_name, "dedup_key": item.dedup_key,
                                     "status": outcome.status, "attempt": attempt}))
            elif outcome.permanent or attempt >= policy.max_attempts:
                reason = outcome.error if outcome.permanent else f"gave up after {attempt} attempts: {outcome.error}"
                self._dead_letter(item, outcome.status, reason)
                counts["dead_lettered"] += 1
            else:
                delay = deliver.next_delay(outcome, attempt, policy.backoff_initial_seconds,
                                           policy.backoff_max_seconds, self.rand)
                self.store.retry(item, outcome.status, outcome.error, now + delay, now)
                counts["retried"] += 1
                log.warning(json.dumps({"event": "retry", "target": target_name, "dedup_key": item.dedup_key,
                                        "attempt": attempt, "status": outcome.status, "error": outcome.error,
                                        "retry_in_seconds": round(delay, 3)}))
                break  # the target is failing: the rest of its queue waits for the next round
        return counts

    def _dead_letter(self, item: Delivery, status: int | None, reason: str | None, attempted: bool = True) -> None:
        """Append the delivery to the target's dead-letter file (fsync'd), then mark it dead in the outbox."""
        now = self.clock()
        entry = {"dead_lettered_at": _iso(now), "target": item.target, "rules": item.rules,
                 "dedup_key": item.dedup_key, "attempts": item.attempts + int(attempted), "last_status": status,
                 "reason": reason, "queued_at": _iso(item.created_at), "event": item.event}
        with self._dead_letter_lock:
            self.dead_letter_dir.mkdir(parents=True, exist_ok=True)
            with open(self.dead_letter_dir / f"{item.target}.ndjson", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        self.store.dead(item, status, reason, now, attempted)
        log.error(json.dumps({"event": "dead_lettered", "target": item.target, "dedup_key": item.dedup_key,
                              "attempts": entry["attempts"], "status": status, "reason": reason}))

    # -- the loop --------------------------------------------------------------------------------------------------

    def run_once(self) -> RoundReport:
        report = RoundReport()
        self.reload_rules()
        try:
            self.scan(report)
        finally:  # a batch that cannot be read must not hold up what is already queued
            self.deliver_due(report)
            self.store.prune(self.clock())
            write_metrics(self.store, self.state_dir / "metrics.prom")
        return report

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set: every ``interval`` seconds, sooner when a retry falls due."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - e.g. a model broken by a bad edit: log, keep delivering the outbox
                log.exception(json.dumps({"event": "round_failed"}))
            next_due = self.store.next_due()
            wait = interval if next_due is None else min(interval, next_due - self.clock())
            stop.wait(max(wait, 0.01))


def explain(files: list[Path], rules: Rules) -> tuple[Canonicalised, list[dict[str, list[str]]]]:
    """For `lifecycle subscriptions test`: each event of the files and the targets (→ rules) it would go to."""
    result = canonicalise(files)
    return result, [rules.route(event.attributes) for event in result.events]


# -- status ----------------------------------------------------------------------------------------------------------

_METRICS = (
    ("delivered", "counter", "Deliveries answered 2xx."),
    ("retried", "counter", "Failed attempts scheduled for a retry."),
    ("failed", "counter", "Failed delivery attempts (retried or dead-lettered)."),
    ("dead_lettered", "counter", "Deliveries written to the dead-letter file."),
)


def metrics_text(store: Store) -> str:
    """Prometheus text format (for node_exporter's textfile collector, or to read)."""
    stats = store.stats()
    lines: list[str] = []
    for name, kind, help_text in _METRICS:
        metric = f"lifecycle_subscriptions_{name}_total"
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} {kind}"]
        lines += [f'{metric}{{target="{t}"}} {s[name]}' for t, s in sorted(stats.items())]
    lines += ["# HELP lifecycle_subscriptions_queue_depth Deliveries waiting in the outbox.",
              "# TYPE lifecycle_subscriptions_queue_depth gauge"]
    lines += [f'lifecycle_subscriptions_queue_depth{{target="{t}"}} {s["queue_depth"]}'
              for t, s in sorted(stats.items())]
    lines += ["# HELP lifecycle_subscriptions_last_success_timestamp_seconds When a delivery last succeeded.",
              "# TYPE lifecycle_subscriptions_last_success_timestamp_seconds gauge"]
    lines += [f'lifecycle_subscriptions_last_success_timestamp_seconds{{target="{t}"}} {s["last_success_at"]:.3f}'
              for t, s in sorted(stats.items()) if s["last_success_at"] is not None]
    files = store.file_stats()
    lines += ["# HELP lifecycle_subscriptions_files_total Landing-zone files read.",
              "# TYPE lifecycle_subscriptions_files_total counter",
              f"lifecycle_subscriptions_files_total {files['files']}",
              "# HELP lifecycle_subscriptions_events_total Canonical events read from landing-zone files.",
              "# TYPE lifecycle_subscriptions_events_total counter",
              f"lifecycle_subscriptions_events_total {files['events']}"]
    return "\n".join(lines) + "\n"


def write_metrics(store: Store, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(metrics_text(store))
    os.replace(tmp, path)


def status(state_dir: Path) -> dict:
    """What `lifecycle subscriptions status` shows: per-target counters and queue, files read, dead-letter files."""
    store = Store(state_dir, read_only=True)
    try:
        times = ("last_success_at", "last_failure_at", "oldest_pending_at")
        targets = {t: {**s, **{k: _iso(s[k]) for k in times}} for t, s in sorted(store.stats().items())}
        files = store.file_stats()
    finally:
        store.close()
    files["last_processed_at"] = _iso(files["last_processed_at"])
    dead = state_dir / "dead-letter"
    return {"state": str(state_dir), "files": files, "targets": targets,
            "dead_letter_files": sorted(str(p) for p in dead.glob("*.ndjson")) if dead.is_dir() else []}
