"""The composition root: the one place that builds the watcher's parts from a
validated config.

``watcher run``, ``run --once``, ``serve`` and every other command get their
parts here, and so do tests that want the real thing:

* :func:`open_store` — the configured database, created or upgraded; when it
  cannot be opened, a :class:`~watcher.errors.DatabaseOpenError` says what to
  change (:func:`database_problem` checks the path without opening anything);
* :func:`build_parts` — what every pipeline shares: the guarded HTTP client,
  the extraction worker, the matcher, the clock;
* :class:`Watcher` — a watcher at work on its database: the instance lock, a
  store, the parts and the alert sender, with :meth:`Watcher.run_once`,
  :meth:`Watcher.deliver`, :meth:`Watcher.maintain` and :meth:`Watcher.daemon`
  (which reloads through :meth:`Watcher.reload` on SIGHUP);
* :func:`matcher`, :func:`extractor`, :func:`notifier`, :func:`web_settings`
  for the commands that need one part.

Rules are loaded by the caller (the CLI loads them in one place and shows
their warnings) and handed in as a ``RuleSet``. Nothing here reads the clock,
the environment or the command line: the shells pass them in. The heavy
libraries (trafilatura's worker, apprise, APScheduler, datasette) are
imported when a part that needs them is built, so light commands start fast.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from watcher.config import ChannelConfig, Config, ExtractionConfig
from watcher.daemon.lock import InstanceLock
from watcher.dedup.refold import refold
from watcher.errors import ConfigError, DatabaseOpenError, StoreError
from watcher.store.database import Store

if TYPE_CHECKING:
    from watcher.daemon.scheduler import Daemon, Loaded
    from watcher.daemon.systemd import ServiceManager
    from watcher.extract.extractor import Extractor
    from watcher.fetch.client import Client
    from watcher.match.matcher import Matcher
    from watcher.match.meaning import VectorSource
    from watcher.match.rules import RuleSet
    from watcher.notify.notifier import Notifier
    from watcher.notify.operator import Notice
    from watcher.notify.sender import DrainSummary, Sender
    from watcher.notify.webhook import Post, Webhook
    from watcher.pipeline import Parts, RunSummary
    from watcher.review.retention import Maintenance
    from watcher.web.server import WebSettings
    from watcher.workers.broker import Broker, RunLock
    from watcher.workers.remote import RemoteReader
    from watcher.workers.service import WorkerService

Clock = Callable[[], datetime]
Loader = Callable[[], "tuple[Config, RuleSet]"]
SQLITE_MAGIC = b"SQLite format 3\x00"


# -- the database --------------------------------------------------------------------


def database_problem(config: Config) -> str | None:
    """Why the configured database cannot be used (its folder is missing or
    read-only, or it is a folder itself), or None. Creates nothing."""
    path = config.database
    if str(path) == ":memory:":
        return None
    where = f"fix [watcher] database in {config.path}"
    folder = path.parent
    if path.is_dir():
        return f"the database {path} is a folder; {where} to name a file, e.g. {path / 'watcher.db'}"
    if not folder.exists():
        return f"the folder of the database {path} does not exist; create it (mkdir -p {folder}) or {where}"
    if not folder.is_dir():
        return f"the database {path} would be inside {folder}, which is a file, not a folder; {where}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"cannot write in {folder}, the folder of the database (SQLite keeps its journal "
            f"beside it); give this user write access to it or {where}"
        )
    return None


def open_store(config: Config) -> Store:
    """The configured database, created or upgraded to this watcher's schema.
    Raises DatabaseOpenError, naming what to change, when it cannot be used."""
    problem = database_problem(config)
    if problem:
        raise DatabaseOpenError(problem)
    path = config.database
    existed = path.exists()
    try:
        store = Store.open(path)
        refold(store)
        return store
    except StoreError as exc:
        if existed and not _looks_like_sqlite(path):
            raise DatabaseOpenError(
                f"{path} is not a watcher database (not an SQLite file); fix [watcher] database "
                f"in {config.path}, or move that file away to start a new log there"
            ) from None
        if not existed:
            raise DatabaseOpenError(
                f"{exc}; check that this user can create files in {path.parent}, or fix "
                f"[watcher] database in {config.path}"
            ) from None
        raise DatabaseOpenError(str(exc)) from None


def store_opener(config: Config) -> Callable[[], Store]:
    """Opens another connection to the (already opened) database: one per worker thread."""
    return functools.partial(Store.open, config.database)


def _looks_like_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError:
        return True  # let SQLite's own message speak
    return head in (b"", SQLITE_MAGIC)


# -- the parts -------------------------------------------------------------------------


def matcher(
    rules: RuleSet, *, embed: bool = True, previous: Matcher | None = None, idle_exit: float | None = None
) -> Matcher:
    """The matcher for ``rules``, with a language detector and, when a rule has like/about
    examples (and ``embed``), the embedding worker (started on first use: ``close()`` the matcher;
    it exits after ``idle_exit`` idle seconds, ``[extraction] idle_exit`` in the daemon).
    ``previous``: the matcher a reload replaces; its worker (if any) is reused, not doubled."""
    from watcher.match.matcher import Matcher
    from watcher.text.language import LanguageDetector

    embedder = None
    if embed and any(r.similarity is not None for r in rules.rules):
        from watcher.match.embedder import IDLE_EXIT, Embedder

        reused = previous.embedder if previous is not None else None
        idle = IDLE_EXIT if idle_exit is None else idle_exit
        embedder = reused if isinstance(reused, Embedder) else Embedder(idle_exit=idle)
    detector = previous.detector if previous is not None else None
    return Matcher(rules, detector=detector or LanguageDetector(), embedder=embedder)


def warm(matcher: Matcher, config: Config) -> None:
    """Load the matcher's models before the polls; the rules' examples are embedded on a
    background thread through vectors kept in the database (so the next run embeds nothing)."""
    embedder = matcher.embedder
    if embedder is None:
        matcher.warm()
        return
    opener = store_opener(config)

    def vectors() -> tuple[VectorSource, Callable[[], None]]:
        from watcher.match.meaning import StoredVectors

        store = opener()
        return StoredVectors(store, embedder), store.close

    matcher.warm(vectors)


def extractor(extraction: ExtractionConfig | None = None) -> Extractor:
    """The pool of extraction workers (each started on first use, stopped when
    idle; close the pool when done). The workers also compute each text's
    content hash and SimHash (``watcher.dedup.digest``)."""
    from watcher.dedup.digest import POST
    from watcher.extract.extractor import Extractor

    extraction = extraction or ExtractionConfig()
    return Extractor(
        timeout=extraction.timeout,
        memory_mb=extraction.memory_mb,
        workers=extraction.workers,
        idle_exit=extraction.idle_exit,
        post=POST,
    )


def source_problems(config: Config) -> list[str]:
    """What the config reader cannot check itself: each index page's CSS
    selector and link pattern (``feeds[N].selector: ...``)."""
    from watcher.pipeline.reading import source_problems as problems

    return problems(config.feeds)


def build_parts(config: Config, clock: Clock, rules: RuleSet, *, alerting: bool = True) -> Parts:
    """What every pipeline shares, for ``config``. ``alerting=False``: nothing
    stored now queues an alert (``run --once --no-send``). ConfigError when a
    source's selector or link pattern cannot be used."""
    from watcher.errors import ConfigError
    from watcher.pipeline import Parts

    problems = source_problems(config)
    if problems:
        raise ConfigError(config.path, problems)

    client = _client(config, clock)
    return Parts(
        config=config,
        client=client,
        extractor=extractor(config.extraction),
        matcher=matcher(rules, idle_exit=config.extraction.idle_exit),
        clock=clock,
        alerting=alerting,
    )


def rebuild_parts(old: Parts, config: Config, rules: RuleSet) -> tuple[Parts, list[tuple[str, Any]]]:
    """Parts for a reloaded ``config`` and ``rules``: a new matcher, and a new
    client or extractor only when their settings changed (the stop event and
    the clock stay). Also returns the old parts no longer used (close them
    once no poll uses them), as ("client" | "extractor" | "matcher", part). The matcher's
    embedding worker carries over to the new matcher when both have rules with examples."""
    from dataclasses import replace

    from watcher.errors import ConfigError

    problems = source_problems(config)
    if problems:
        raise ConfigError(config.path, problems)
    retired: list[tuple[str, Any]] = []
    same_network = (old.config.network, old.config.user_agent) == (config.network, config.user_agent)
    new_client = old.client if same_network else _client(config, old.clock)
    if new_client is not old.client:
        retired.append(("client", old.client))
    new_extractor = old.extractor
    if old.config.extraction != config.extraction:
        new_extractor = extractor(config.extraction)
        retired.append(("extractor", old.extractor))
    new_matcher = matcher(rules, previous=old.matcher, idle_exit=config.extraction.idle_exit)
    if old.matcher.embedder is not None and old.matcher.embedder is not new_matcher.embedder:
        retired.append(("matcher", old.matcher))  # its rules no longer use meaning: stop its worker
    warm(new_matcher, config)
    parts = replace(old, config=config, client=new_client, extractor=new_extractor, matcher=new_matcher)
    return parts, retired


def notifier(
    channel: ChannelConfig, config: Config | None = None, clock: Clock | None = None
) -> Notifier | Webhook:
    """The channel's sender: apprise, or (``format = "json"``) a structured
    webhook through a guarded client built from ``config``."""
    from watcher.notify.notifier import Notifier
    from watcher.notify.webhook import Webhook

    if channel.format != "json":
        return Notifier(channel)
    if config is None:
        return Webhook(channel, None)
    return Webhook(channel, webhook_post(_client(config, clock)))


def client(config: Config, clock: Clock | None = None) -> Client:
    """A guarded HTTP client under the config's [network] settings (close it when done)."""
    return _client(config, clock)


def _client(config: Config, clock: Clock | None = None) -> Client:
    from watcher.fetch.client import Client, NetworkPolicy

    net = config.network
    return Client(
        NetworkPolicy(
            timeout=net.timeout,
            user_agent=config.user_agent,
            max_redirects=net.max_redirects,
            allow_private=net.allow_private,
            proxy=net.proxy,
            per_host=net.per_host,
        ),
        clock=clock,
    )


def broker(config: Config) -> Broker:
    """A connection to the deployment's Redis (``[workers] broker``)."""
    try:
        from watcher.workers.broker import Broker
    except ImportError as exc:
        raise ConfigError(
            config.path,
            [
                f"workers.broker: distributed mode needs the workers extra ({exc.name} is missing): "
                "pip install 'watcher-news[workers]'"
            ],
        ) from None

    w = config.workers
    if w.broker is None:
        raise ConfigError(
            config.path,
            ['workers.broker: not set; give the Redis URL, e.g. broker = "redis://127.0.0.1:6379/0"'],
        )
    return Broker(w.broker, namespace=w.namespace, visibility_timeout=w.visibility_timeout)


def _distributed(config: Config, stop: threading.Event) -> tuple[Broker, RunLock, RemoteReader]:
    """What ``watcher run`` needs in distributed mode: the broker, the
    deployment lock in it (LockError when another run holds it) and the reader
    that hands feeds and pages to the workers."""
    import logging

    from watcher.workers.broker import BrokerError
    from watcher.workers.remote import RemoteReader

    connection = broker(config)

    def lost(why: str) -> None:
        logging.getLogger("watcher.workers").error("stopping: %s", why)
        stop.set()

    try:
        lock = connection.hold_lock({"database": str(config.database.resolve())}, ttl=LOCK_TTL, on_lost=lost)
    except BrokerError as exc:
        connection.close()
        raise DatabaseOpenError(
            f"cannot reach the broker of [workers] broker in {config.path}: {exc}; start Redis or fix the URL"
        ) from None
    except BaseException:
        connection.close()
        raise
    return connection, lock, RemoteReader(connection)


LOCK_TTL = 30.0  # seconds the deployment lock outlives a run killed with -9 (on another machine)


def worker_service(config: Config, clock: Clock) -> WorkerService:
    """``watcher worker``: the broker, the guarded client and the extraction
    pool, reading orders for this deployment (no database)."""
    from watcher.pipeline.reader import LocalReader
    from watcher.workers.service import WorkerService

    connection = broker(config)
    reader = LocalReader(_client(config, clock), extractor(config.extraction), config)
    time_limit = config.network.poll_deadline + 2 * config.extraction.timeout + 120
    grace = config.network.timeout + config.extraction.timeout + 10
    return WorkerService(
        connection, reader, threads=config.workers.threads, time_limit=time_limit, grace=grace
    )


def webhook_post(client: Client) -> Post:
    """A structured webhook's POST through the guarded client."""
    from watcher.notify.webhook import Answer

    def post(url: str, body: bytes) -> Answer:
        response = client.post(url, body, content_type="application/json; charset=utf-8")
        return Answer(response.status, response.body)

    return post


def web_settings(
    config: Config, *, host: str | None = None, port: int | None = None, password: str | None = None
) -> WebSettings:
    """What ``watcher serve`` serves, once it is known that it can: the address
    is allowed and free (WebError), and the database exists at this watcher's
    schema (DatabaseOpenError); the page itself opens it read-only."""
    from watcher.web import server as web

    settings = web.WebSettings.from_config(config, host=host, port=port)
    if password:
        settings = dataclasses.replace(settings, password=password)
    web.check_binding(settings)
    web.check_port(settings)
    open_store(config).close()
    return settings


def watch(store: Store, config: Config, now: datetime, parts: Parts) -> list[Notice]:
    """One operator check (:func:`watcher.notify.operator.check`) with the
    rules ``parts`` match with; a failure is logged, never raised (the check
    must not stop polling)."""
    import logging

    from watcher.notify import operator

    try:
        return operator.check(store, config, now, rules=[r.id for r in parts.matcher.rules.rules])
    except Exception:
        logging.getLogger("watcher.operator").exception("the operator check failed; it runs again later")
        return []


# -- a watcher at work -------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What one pass over the outbox sent, and how many alerts still wait."""

    summary: DrainSummary
    waiting: int


class Watcher:
    """A watcher at work on its database: holds the instance lock (LockError
    when another watcher has it), a store, the shared parts and the alert
    sender. ``close()`` it, or use it as a context manager."""

    def __init__(
        self,
        config: Config,
        rules: RuleSet,
        clock: Clock,
        *,
        loader: Loader | None = None,
        alerting: bool = True,
    ) -> None:
        """``loader`` reads the config and rules again from disk (for a reload;
        it raises ConfigError/RulesError naming file and key). ``alerting=False``:
        ``run --once --no-send``."""
        from watcher.notify.sender import Sender

        self.config = config
        self.clock = clock
        self.rules = rules
        self._loader = loader
        self._retired: list[tuple[str, Any]] = []
        problem = database_problem(config)  # before the lock file is made beside it
        if problem:
            raise DatabaseOpenError(problem)
        self._lock = InstanceLock(config.database).acquire()
        try:
            self.store = open_store(config)
        except BaseException:
            self._lock.release()
            raise
        self._remote: tuple[Broker, RunLock, RemoteReader] | None = None
        try:
            self.parts = build_parts(config, clock, rules, alerting=alerting)
            if config.workers.distributed:
                self._remote = _distributed(config, self.parts.stop)
                self.parts = dataclasses.replace(self.parts, remote=self._remote[2])
        except BaseException:
            self.store.close()
            self._lock.release()
            raise
        self.sender: Sender = Sender(self.store, config, clock, post=webhook_post(self.parts.client))
        self._closing: list[Callable[[], None]] = []

    def run_once(self) -> RunSummary:
        """Poll every due feed once (healthy ones even before their interval);
        ``self.parts.stop`` stops the polls between entries. Ends with the
        operator check (:meth:`watch`)."""
        from watcher import pipeline

        warm(self.parts.matcher, self.config)  # the models load before the polls, not in the first one
        summary = pipeline.run_once(self.parts, self.store, store_opener(self.config))
        self.watch()
        return summary

    def watch(self) -> list[Notice]:
        """Operator notices: start or end the conditions the store shows now
        (a feed failing, silent or degraded, a channel failing, ...); they are
        queued for the ``ops = true`` channels and sent by :meth:`deliver`."""
        return watch(self.store, self.config, self.clock(), self.parts)

    def maintain(self) -> Maintenance:
        """Prune when a prune is due (``[watcher] keep_days``) and checkpoint the WAL."""
        from watcher.review import retention

        return retention.maintain(self.store, self.config.keep_days, self.clock())

    def reload(self) -> Loaded:
        """The config and rules as they are on disk now, built into parts (and a
        new alert sender when the channels or [alerts] changed). Raises the
        loader's ConfigError/RulesError, or a ConfigError when the database
        would change (that takes a restart); the running parts stay then."""
        from watcher.daemon.scheduler import Loaded
        from watcher.notify.sender import Sender

        if self._loader is None:
            raise ConfigError(self.config.path, ["cannot be reloaded by this watcher; restart it"])
        config, rules = self._loader()
        if config.database.resolve() != self.config.database.resolve():
            raise ConfigError(
                config.path,
                [
                    f"watcher.database: changed from {self.config.database} to {config.database}; "
                    "a reload cannot move the log: restart watcher to use another database"
                ],
            )
        if config.workers != self.config.workers:
            raise ConfigError(
                config.path, ["workers: [workers] changes take effect at the next start; restart watcher"]
            )
        parts, retired = rebuild_parts(self.parts, config, rules)
        sender = self.sender
        if (config.channels, config.alerts) != (self.config.channels, self.config.alerts):
            sender = Sender(self.store, config, self.clock, post=webhook_post(parts.client))
        self._retired += retired
        self.config, self.rules, self.parts, self.sender = config, rules, parts, sender
        return Loaded(parts=parts, sender=sender, rules=len(rules.rules))

    def deliver(self) -> Delivery | None:
        """One pass over the outbox; None when no channel is configured."""
        from watcher.store import alerts

        if not self.config.channels:
            return None
        summary = self.sender.drain(self.clock())
        return Delivery(summary, alerts.count_pending(self.store))

    def daemon(
        self,
        *,
        grace: float,
        service: ServiceManager | None = None,
        heartbeat: Callable[[], None] | None = None,
        ready: Callable[[], None] | None = None,
        stopping: Callable[[], None] | None = None,
    ) -> Daemon:
        """The scheduler that polls and delivers until stopped. Its loop stores
        a heartbeat (``watcher health``, ``/healthz``) and, under systemd
        (``service``), says READY once running, WATCHDOG on every tick and
        STOPPING when a shutdown begins."""
        from watcher.daemon.heartbeat import Heartbeat
        from watcher.daemon.scheduler import Daemon

        beat = Heartbeat(store_opener(self.config), self.clock)
        self._closing.append(beat.close)
        warm(self.parts.matcher, self.config)
        feeds = len(self.config.feeds)

        def on_tick() -> None:
            beat.beat()
            if service:
                service.watchdog()
            if heartbeat:
                heartbeat()

        def on_ready() -> None:
            if service:
                service.ready(f"watching {feeds} feed(s)")
            if ready:
                ready()

        def on_stopping() -> None:
            if service:
                service.stopping()
            if stopping:
                stopping()

        return Daemon(
            self.parts,
            open_store=store_opener(self.config),
            sender=self.sender,
            grace=grace,
            reload=self.reload if self._loader else None,
            heartbeat=on_tick,
            ready=on_ready,
            stopping=on_stopping,
        )

    def beat(self) -> None:
        """Store a heartbeat now (after a completed ``run --once``: the timer's sign of life)."""
        from watcher.daemon.heartbeat import Heartbeat

        Heartbeat(lambda: self.store, self.clock).beat()

    def close(self, *, finished: bool = True) -> None:
        """Stop the extraction worker, close the store and release the lock.
        ``finished=False`` (polls outlived the grace time and still use the
        HTTP client) leaves the client to the process's exit."""
        try:
            for close in self._closing:
                close()
            if self._remote is not None:
                broker, lock, reader = self._remote
                reader.close()
                lock.release()
                broker.close()
            self.parts.extractor.close()
            self.parts.matcher.close()
            for kind, old in self._retired:  # parts a reload replaced
                if finished or kind in ("extractor", "matcher"):  # a stuck poll may still use an old client
                    old.close()
            self.store.close()
        finally:
            self._lock.release()
        if finished:
            self.parts.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
