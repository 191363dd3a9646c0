"""[network] per_host: feeds and article pages of one host share its slots.
A server counting the requests it is answering at once never sees more than
per_host from the watcher, however many feeds and workers there are."""

from __future__ import annotations

import threading

import pytest
from newsroom import Newsroom, write_config
from support import watcher


class Counter:
    """Answers every request after holding it a moment (or until a second one
    arrives), counting how many are under way at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.crowded = threading.Event()

    def wrap(self, server, path: str) -> None:
        route = server._routes[path]

        def answer(handler) -> None:
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
                if self.now > 1:
                    self.crowded.set()
            try:
                self.crowded.wait(0.3)  # long enough for a second request to overlap, if one may
                body = route.body if isinstance(route.body, bytes) else b"".join(route.body())
                handler.send_response(200)
                handler.send_header("Content-Type", route.content_type or "text/html")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)
            finally:
                with self.lock:
                    self.now -= 1

        server.route_handler(path, answer)


@pytest.mark.parametrize("per_host", [1, 2])
def test_a_server_never_sees_more_requests_at_once_than_per_host(tmp_path, server, per_host):
    room = Newsroom(server)
    room.add_seed_articles()
    feeds = [(f"Feed {i}", room.publish(f"/feed{i}.xml", f"Feed {i}")) for i in range(3)]
    counter = Counter()
    for path in [f"/feed{i}.xml" for i in range(3)] + [s.path for s in room.stories]:
        counter.wrap(server, path)
    config = write_config(tmp_path, feeds, network=f"max_connections = 4\nper_host = {per_host}")

    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    assert len(server.requests) >= 3 + len(room.stories)
    assert counter.most == per_host  # never more; and the count does see overlap when it is allowed
