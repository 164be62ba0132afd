"""A stand-in for a paused Aurora Serverless v2 cluster in front of a real PostgreSQL: a TCP proxy on loopback that
passes connections through while "running", and after `pause()` holds every new connection until a resume of
`resume_seconds` has run, the resume starting with the first connection attempt (as Aurora's does). Connections
already open are never cut: Aurora pauses only with none open. Runs its own event loop in a daemon thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time


class PausedPostgres:
    """`port` forwards to 127.0.0.1:`upstream_port`. `connections` counts the connections accepted so far."""

    def __init__(self, upstream_port: int, *, resume_seconds: float = 15.0) -> None:
        self.upstream_port, self.resume_seconds = upstream_port, resume_seconds
        self.connections = 0
        self.resumes: list[float] = []
        self._paused = False
        self._resumed: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    def pause(self) -> None:
        """From now on the next connection finds the cluster paused and waits for its resume."""
        self._paused = True

    async def _wait_for_resume(self) -> None:
        if self._resumed is None:  # the first attempt starts the resume
            self._resumed = asyncio.Event()
            started = time.monotonic()
            await asyncio.sleep(self.resume_seconds)
            self.resumes.append(time.monotonic() - started)
            self._paused, event, self._resumed = False, self._resumed, None
            event.set()
        else:
            await self._resumed.wait()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._paused:
            await self._wait_for_resume()
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()
