"""The broker: Redis, through Dramatiq (the one module that imports either).

Three queues per deployment (``[workers] namespace``): ``feeds`` and
``pages`` carry fetch orders from ``watcher run`` to the ``watcher worker``s,
``results`` carries their plain results back. Dramatiq's Redis broker gives
the delivery guarantees the design leans on:

- a message is acknowledged only after its handler returned; until then it
  sits in the consumer's ack set;
- every broker connection records a heartbeat; the messages of a consumer
  whose heartbeat is older than the visibility timeout (``[workers]
  visibility_timeout``; Dramatiq's ``heartbeat_timeout``) go back to their
  queue, so a task lost with a killed worker is done again by another one.
  A worker beats on its own every third of that timeout, so a worker busy
  with long pages is never taken for dead;
- a handler that raises is retried with back-off (``Retries``), a handler
  that runs past a generous time limit is interrupted (``TimeLimit``; the
  extraction pool and the guarded client bound the real work far sooner).

Beside the queues, a few keys of our own: the deployment lock of ``watcher
run`` (``<ns>:run``), the workers seen (``<ns>:workers``, a sorted set by last
beat), the count of tasks delivered more than once (``<ns>:retried``) and of
results per 10-second bucket (``<ns>:results:<n>``).

Every Redis or Dramatiq failure leaves this module as a ``BrokerError``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
from dramatiq.errors import BrokerConnectionError as DramatiqConnectionError
from dramatiq.middleware import Retries, TimeLimit

from watcher.errors import LockError, WatcherError

FEEDS, PAGES, RESULTS = "feeds", "pages", "results"
_ACTORS = {FEEDS: "watcher_feed", PAGES: "watcher_page", RESULTS: "watcher_result"}
_PRIORITY = {PAGES: 0, FEEDS: 10}  # a worker takes pages of polls under way before new polls
SEEN_WINDOW = 60.0  # "workers seen": in the last minute
_BUCKET = 10  # seconds per results bucket
_POLL_MS = 200  # how long an idle consumer waits between looks at its queue
_STARTED_TTL = 1800  # seconds a started task's token is remembered (a redelivery comes sooner)


class BrokerError(WatcherError):
    """The broker could not be reached or did not answer as expected."""


@dataclass(frozen=True)
class Snapshot:
    """What ``watcher status`` and ``/metrics`` show about the queues."""

    waiting: dict[str, int]  # messages waiting per queue (feeds, pages, results)
    in_progress: dict[str, int]  # taken by a consumer, not acknowledged yet
    workers: tuple[str, ...]  # workers seen in the last minute ("host:pid")
    retried: int  # tasks delivered more than once, since the namespace was new
    results_per_second: float  # over the last minute


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except (redis.RedisError, DramatiqConnectionError, OSError) as exc:
        raise BrokerError(f"{what}: {type(exc).__name__}: {exc}") from None


class Broker:
    """A connection to the deployment's Redis, with its queues and keys."""

    def __init__(self, url: str, *, namespace: str, visibility_timeout: float) -> None:
        self.namespace = namespace
        self.visibility_timeout = visibility_timeout
        self._redis = redis.Redis.from_url(
            url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=10
        )
        self._dramatiq = RedisBroker(
            client=self._redis,
            namespace=namespace,
            heartbeat_timeout=int(visibility_timeout * 1000),
            maintenance_chance=MAINTENANCE_SCALE,  # every look at a queue requeues a dead consumer's tasks
            middleware=[],
        )

    def close(self) -> None:
        try:
            self._dramatiq.close()
            self._redis.close()
        except Exception:
            pass

    # -- what crosses the queues ------------------------------------------------------

    def send(self, queue: str, body: dict[str, Any]) -> None:
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=queue, actor_name=_ACTORS[queue], args=(body,), kwargs={}, options={}
        )
        with _translated(f"cannot queue a message on {self.namespace}:{queue}"):
            self._dramatiq.enqueue(message)

    def consume(self, queue: str, handle: Callable[[dict[str, Any]], None], stop: threading.Event) -> None:
        """Hand each message of ``queue`` to ``handle`` and acknowledge it, until
        ``stop``; a lost connection is retried every second (logged by the caller
        through ``on_trouble``)."""
        while not stop.is_set():
            try:
                consumer = self._dramatiq.consume(queue, prefetch=256, timeout=_POLL_MS)
                message: Any
                for message in consumer:
                    if stop.is_set():
                        break
                    if message is None:
                        continue
                    try:
                        handle(message.args[0] if message.args else {})
                    finally:
                        consumer.ack(message)
            except (redis.RedisError, DramatiqConnectionError, OSError):
                stop.wait(1.0)
            except Exception:  # a bug in a handler must not end the consumer: the run would wait forever
                logging.getLogger("watcher.workers").exception(
                    "a message from %s could not be handled", queue
                )
                stop.wait(1.0)

    def serve(
        self, handlers: dict[str, Callable[[dict[str, Any]], None]], *, threads: int, time_limit: float
    ) -> Serving:
        """Start a Dramatiq worker running ``handlers`` (by queue) in ``threads`` threads."""
        broker = self._dramatiq
        broker.add_middleware(TimeLimit(time_limit=int(time_limit * 1000), interval=1000))
        broker.add_middleware(Retries(max_retries=3, min_backoff=1000, max_backoff=30_000))
        for queue, handler in handlers.items():
            dramatiq.Actor(
                handler,
                broker=broker,
                actor_name=_ACTORS[queue],
                queue_name=queue,
                priority=_PRIORITY.get(queue, 0),
                options={},
            )
        worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=_POLL_MS)
        worker.queue_prefetch = threads  # no hoarding: an idle worker elsewhere gets the rest
        worker.start()
        return Serving(self, worker, list(handlers))

    def beat(self, queues: list[str]) -> None:
        """Refresh this connection's heartbeat (any command to the queues does)."""
        with _translated("cannot reach the broker"):
            for queue in queues:
                self._dramatiq.do_qsize(queue)

    # -- the deployment lock ----------------------------------------------------------

    def hold_lock(self, owner: dict[str, Any], *, ttl: float, on_lost: Callable[[str], None]) -> RunLock:
        """The deployment's lock for one ``watcher run`` (LockError when another holds it)."""
        return RunLock(self, owner, ttl=ttl, on_lost=on_lost)

    # -- observability ----------------------------------------------------------------

    def server_id(self) -> str:
        """The Redis server's run id: it changes when Redis restarts (and may have lost messages)."""
        with _translated("cannot reach the broker"):
            return str(self._redis.info("server").get("run_id", ""))

    def worker_seen(self, worker: str, info: dict[str, Any]) -> None:
        now = time.time()
        with _translated("cannot reach the broker"):
            self._redis.zadd(self._key("workers"), {worker: now})
            self._redis.zremrangebyscore(self._key("workers"), 0, now - 24 * 3600)
            self._redis.set(self._key(f"worker:{worker}"), json.dumps(info), ex=int(SEEN_WINDOW * 2))

    def worker_gone(self, worker: str) -> None:
        with _translated("cannot reach the broker"):
            self._redis.zrem(self._key("workers"), worker)
            self._redis.delete(self._key(f"worker:{worker}"))

    def first_delivery(self, token: str) -> bool:
        """True the first time a task with ``token`` is started; later deliveries
        (a worker died, Redis restarted, a retry) count as retried."""
        with _translated("cannot reach the broker"):
            first = bool(self._redis.set(self._key(f"started:{token}"), 1, nx=True, ex=_STARTED_TTL))
            if not first:
                self._redis.incr(self._key("retried"))
            return first

    def count_retried(self, count: int = 1) -> None:
        with _translated("cannot reach the broker"):
            self._redis.incrby(self._key("retried"), count)

    def count_results(self, count: int = 1) -> None:
        bucket = self._key(f"results:{int(time.time()) // _BUCKET}")
        with _translated("cannot reach the broker"):
            self._redis.eval(_COUNT, 1, bucket, count, 600)

    def snapshot(self) -> Snapshot:
        now = time.time()
        with _translated("cannot reach the broker"):
            r = self._redis
            answers: list[Any] = []
            for queue in (FEEDS, PAGES, RESULTS):
                answers += [r.llen(self._key(queue)), r.hlen(self._key(f"{queue}.msgs"))]
            answers.append(r.zrangebyscore(self._key("workers"), now - SEEN_WINDOW, "+inf"))
            answers.append(r.get(self._key("retried")))
            current = int(now) // _BUCKET
            for bucket in range(current - SEEN_WINDOW_BUCKETS, current):
                answers.append(r.get(self._key(f"results:{bucket}")))
        waiting, in_progress = {}, {}
        for i, queue in enumerate((FEEDS, PAGES, RESULTS)):
            waiting[queue] = int(answers[2 * i])
            in_progress[queue] = max(0, int(answers[2 * i + 1]) - waiting[queue])
        workers = tuple(sorted(w.decode() if isinstance(w, bytes) else str(w) for w in answers[6]))
        results = sum(int(v) for v in answers[8:] if v is not None)
        return Snapshot(
            waiting, in_progress, workers, int(answers[7] or 0), results / (SEEN_WINDOW_BUCKETS * _BUCKET)
        )

    def _key(self, name: str) -> str:
        return f"{self.namespace}:{name}"


SEEN_WINDOW_BUCKETS = int(SEEN_WINDOW // _BUCKET)


class Serving:
    """A running Dramatiq worker and its heartbeat."""

    def __init__(self, broker: Broker, worker: Any, queues: list[str]) -> None:
        self._broker = broker
        self._worker = worker
        self._queues = queues

    def beat(self) -> None:
        self._broker.beat(self._queues)

    def stop(self, timeout: float) -> None:
        """Stop taking tasks, let those under way end (at most ``timeout``), and
        put back the ones taken but not started."""
        try:
            self._worker.stop(timeout=int(timeout * 1000))
        except Exception:
            pass


_COUNT = """
local n = redis.call('incrby', KEYS[1], ARGV[1]); redis.call('expire', KEYS[1], ARGV[2]); return n
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
"""


class RunLock:
    """The deployment lock in Redis: only one ``watcher run`` per namespace,
    whatever machine it runs on. Renewed every third of ``ttl``; a run killed
    with -9 leaves it for ``ttl`` seconds, except to a new run on the same
    machine and database, which sees that the holder's process is gone and
    takes it over at once. When the lock is lost (another run took it after
    Redis forgot it), ``on_lost`` is called: that run must stop."""

    def __init__(
        self, broker: Broker, owner: dict[str, Any], *, ttl: float, on_lost: Callable[[str], None]
    ) -> None:
        self._broker = broker
        self._redis = broker._redis
        self._key = broker._key("run")
        self._ttl_ms = int(ttl * 1000)
        self._value = json.dumps(
            {**owner, "host": socket.gethostname(), "pid": os.getpid(), "nonce": os.urandom(6).hex()}
        )
        self._owner = owner
        self._on_lost = on_lost
        self._stop = threading.Event()
        self._acquire()
        self._thread = threading.Thread(target=self._renew, name="broker-lock", daemon=True)
        self._thread.start()

    def _acquire(self) -> None:
        with _translated("cannot take the deployment lock in the broker"):
            if self._redis.set(self._key, self._value, nx=True, px=self._ttl_ms):
                return
            held = self._redis.get(self._key)
            if held is not None and self._stale(held):
                self._redis.eval(_RELEASE, 1, self._key, held)
                if self._redis.set(self._key, self._value, nx=True, px=self._ttl_ms):
                    return
                held = self._redis.get(self._key)
        raise LockError(
            f"another `watcher run` holds this deployment ({self._broker.namespace}): {_who(held)}"
        )

    def _stale(self, held: bytes | str) -> bool:
        """Held by a run of this machine and database whose process is gone."""
        try:
            other = json.loads(held)
        except ValueError:
            return False
        if other.get("host") != socket.gethostname() or other.get("database") != self._owner.get("database"):
            return False
        try:
            os.kill(int(other.get("pid", 0)), 0)
        except ProcessLookupError:
            return True
        except (OSError, ValueError):
            return False
        return int(other.get("pid", 0)) == os.getpid()

    def _renew(self) -> None:
        while not self._stop.wait(self._ttl_ms / 3000):
            try:
                if self._redis.eval(_RENEW, 1, self._key, self._value, self._ttl_ms):
                    continue
                # Redis forgot the lock (a restart): take it again, unless another run did.
                if not self._redis.set(self._key, self._value, nx=True, px=self._ttl_ms):
                    self._on_lost(
                        f"the deployment lock was taken by another `watcher run`: {_who(self._redis.get(self._key))}"
                    )
                    return
            except (redis.RedisError, OSError):
                continue  # the broker is away; the lock is renewed once it is back

    def release(self) -> None:
        self._stop.set()
        try:
            self._redis.eval(_RELEASE, 1, self._key, self._value)
        except (redis.RedisError, OSError):
            pass


def _who(held: bytes | str | None) -> str:
    try:
        other = json.loads(held or b"{}")
    except ValueError:
        return "unknown holder"
    return (
        f"pid {other.get('pid')} on {other.get('host')} (database {other.get('database')}); "
        "stop it first, or use another [workers] namespace"
    )
