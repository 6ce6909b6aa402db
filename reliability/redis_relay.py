"""A TCP relay between one service and Redis that can hold Redis's answers back for a while:
the commands still reach Redis and are applied, but their answers arrive after the client's
timeout. The client then believes a write failed that in fact happened (a loaded machine does
the same to a process starved of CPU)."""

import contextlib
import socket
import threading
import time

BUFFER = 65536


class AnswerStaller:
    def __init__(self, redis_port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, redis_port)
        self._held_until = 0.0
        self._server = socket.create_server((host, 0))
        self.port: int = self._server.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def url(self, password: str) -> str:
        return f"redis://:{password}@{self.target[0]}:{self.port}/0"

    def hold_answers(self, seconds: float) -> None:
        """Answers that come back from now on wait until `seconds` have passed."""
        self._held_until = time.monotonic() + seconds

    def close(self) -> None:
        self._closed.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                continue
            for source, sink, answers in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(
                    target=self._pipe, args=(source, sink, answers), name="relay", daemon=True
                ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while data := source.recv(BUFFER):
                wait = self._held_until - time.monotonic()
                if answers and wait > 0:
                    time.sleep(wait)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.close()
