"""A loopback OpenAI-compatible chat-completions server, so model tests never reach a real provider.

It is the standard library's ``ThreadingHTTPServer`` on 127.0.0.1 (ephemeral port) in a background
thread, so sync tests, async tests and subprocesses (an example script run with ``OPENAI_BASE_URL``)
all reach it the same way. Replies come from a FIFO queue (:meth:`OpenAIServer.reply`,
:meth:`OpenAIServer.fail`), then from ``responder`` when one is set; every request body is recorded
in ``requests``, its headers (lower-cased names) in ``request_headers``. Streamed answers fragment
tool calls the way providers do (id and name only on a call's first fragment, fragments of several
calls interleaved), so the assembly code is exercised, and are sent with chunked transfer encoding
(HTTP/1.1) like llama.cpp's and vLLM's servers, so a stream cut short is an error the client sees.

A reply can script what real servers do at their edges: a ``finish_reason`` (``"length"`` with the
truncated arguments llama.cpp sends when ``max_tokens`` cuts a tool call), a ``delay`` before
answering, a ``chunk_delay`` between streamed chunks (a stream that trickles), and ``cut_after``
(the connection dropped after that many streamed chunks, or before any byte of a whole answer).
Like llama.cpp and vLLM, the server refuses (HTTP 500, llama.cpp's message) a request whose
assistant messages carry tool-call arguments that are not a JSON object, and records that as a
problem: Kern must never send them (``check_arguments=False`` turns the check off).

Usage::

    with OpenAIServer() as server:
        server.reply(tool_calls=[("add_item", {"item": "milk"})], usage=(12, 3))
        server.reply(content="Added milk.")
        ...  # point the model at server.base_url
        assert server.requests[0]["tools"][0]["function"]["name"] == "add_item"
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

NO_REPLY_LEFT = "loopback server: no scripted reply left"
LLAMACPP_BAD_ARGUMENTS = "Failed to parse tool call arguments as JSON"
DEFAULT_USAGE = (10, 5)
ARGUMENT_FRAGMENT = 4  # characters of tool-call arguments per streamed fragment
POLL_INTERVAL = 0.02  # seconds; how soon stop() is noticed

ToolCallSpec = tuple[str, "dict[str, Any] | str"]
Responder = Callable[[dict[str, Any]], "Reply"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer: text and/or tool calls, or (``status`` >= 400) an error.

    A tool call's arguments are a dict (sent as JSON) or a raw string (sent as is, e.g. malformed JSON).
    ``usage`` is ``(prompt_tokens, completion_tokens)``. ``finish_reason`` replaces the usual one
    (``"tool_calls"`` or ``"stop"``). ``delay`` is seconds to wait before answering, ``chunk_delay``
    seconds between streamed chunks; ``cut_after`` drops the connection after that many streamed
    chunks (0: before the status line, for a whole answer too).
    """

    content: str | None = None
    tool_calls: tuple[ToolCallSpec, ...] = ()
    usage: tuple[int, int] | None = None
    status: int = 200
    retry_after: float | str | None = None
    retry_after_ms: float | None = None
    message: str | None = None
    finish_reason: str | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int | None = None

    @property
    def is_error(self) -> bool:
        """Whether this reply is an HTTP error."""
        return self.status >= 400


class OpenAIServer:
    """The loopback server; a context manager that starts it on entry and stops it on exit."""

    def __init__(self, *, check_arguments: bool = True) -> None:
        self.check_arguments = check_arguments
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self.errors: list[str] = []
        self.responder: Responder | None = None
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> OpenAIServer:
        """Listen on an ephemeral port of 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("loopback server already started")
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, owner=self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(POLL_INTERVAL,), name="openai-loopback", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ``http://127.0.0.1:PORT/v1``."""
        if self._httpd is None:
            raise RuntimeError("loopback server not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -- scripting ---------------------------------------------------------------------------------

    def reply(
        self,
        content: str | None = None,
        *,
        tool_calls: Iterable[ToolCallSpec] = (),
        usage: tuple[int, int] | None = None,
        finish_reason: str | None = None,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        cut_after: int | None = None,
    ) -> None:
        """Queue an answer with text, tool calls ``(name, arguments)``, or both (see :class:`Reply`)."""
        self._push(
            Reply(
                content=content,
                tool_calls=tuple(tool_calls),
                usage=usage,
                finish_reason=finish_reason,
                delay=delay,
                chunk_delay=chunk_delay,
                cut_after=cut_after,
            )
        )

    def fail(
        self,
        status: int = 500,
        *,
        retry_after: float | str | None = None,
        retry_after_ms: float | None = None,
        message: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Queue an HTTP error, optionally with ``Retry-After`` / ``retry-after-ms`` headers.

        ``retry_after`` is seconds, or a string sent as is (an HTTP date, or garbage); ``message`` is
        the error body's message; ``delay`` seconds pass before the answer.
        """
        self._push(
            Reply(
                status=status,
                retry_after=retry_after,
                retry_after_ms=retry_after_ms,
                message=message,
                delay=delay,
            )
        )

    @property
    def pending(self) -> int:
        """How many scripted replies are still queued."""
        with self._lock:
            return len(self._queue)

    def clear(self) -> None:
        """Drop the queued replies and the recorded errors."""
        with self._lock:
            self._queue.clear()
            self.errors.clear()

    def problems(self) -> list[str]:
        """What a test left wrong: unconsumed replies and errors the server recorded."""
        with self._lock:
            left = len(self._queue)
            unused = (
                [f"{left} scripted {'reply' if left == 1 else 'replies'} never requested"] if left else []
            )
            return unused + list(self.errors)

    def _push(self, reply: Reply) -> None:
        with self._lock:
            self._queue.append(reply)

    # -- serving (called from the handler threads) -------------------------------------------------

    def _answer(self, request: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.request_headers.append(headers)
        refusal = _invalid_arguments(request) if self.check_arguments else None
        if refusal is not None:  # refused before generating, as llama.cpp does: no scripted reply is used
            self._error(f"loopback server: request {len(self.requests)} {refusal}")
            return Reply(status=500, message=f"{LLAMACPP_BAD_ARGUMENTS}: {refusal}")
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            responder = self.responder
        if responder is None:
            return self._error(NO_REPLY_LEFT)
        try:
            return responder(request)
        except Exception as exc:  # noqa: BLE001 - reported to the test through `errors`
            return self._error(f"loopback server: responder raised {exc!r}")

    def _error(self, message: str) -> Reply:
        with self._lock:
            self.errors.append(message)
        return Reply(status=500, message=message)

    def _next_call_id(self) -> str:
        with self._lock:
            return f"call_{next(self._ids)}"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], *, owner: OpenAIServer) -> None:
        super().__init__(address, handler)
        self.owner = owner


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # chunked streams, as real servers send them

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests assert on ``requests`` instead."""

    def do_GET(self) -> None:
        self._unexpected()

    def do_POST(self) -> None:
        owner = self.server.owner
        if self.path.split("?")[0].rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._unexpected()
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request: dict[str, Any] = json.loads(self.rfile.read(length))
        except ValueError as exc:
            self._send_error(owner._error(f"loopback server: request body is not JSON: {exc}"))
            return
        reply = owner._answer(request, {name.lower(): value for name, value in self.headers.items()})
        if reply.delay:
            time.sleep(reply.delay)
        if reply.cut_after == 0:
            self._drop()
        elif reply.is_error:
            self._send_error(reply)
        else:
            calls = [(owner._next_call_id(), name, _arguments(args)) for name, args in reply.tool_calls]
            if request.get("stream"):
                self._send_stream(request, reply, calls)
            else:
                self._send_json(200, _completion(request, reply, calls))

    def _unexpected(self) -> None:
        owner = self.server.owner
        owner._error(f"loopback server: unexpected {self.command} {self.path}")
        self._send_json(404, _error_body(404, f"loopback server: no route for {self.command} {self.path}"))

    def _send_error(self, reply: Reply) -> None:
        headers: dict[str, str] = {}
        if reply.retry_after is not None:
            value = reply.retry_after
            headers["Retry-After"] = value if isinstance(value, str) else _number(value)
        if reply.retry_after_ms is not None:
            headers["retry-after-ms"] = _number(reply.retry_after_ms)
        message = reply.message or f"loopback server: scripted failure (HTTP {reply.status})"
        self._send_json(reply.status, _error_body(reply.status, message), headers)

    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, request: dict[str, Any], reply: Reply, calls: list[tuple[str, str, str]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        events = [f"data: {json.dumps(chunk)}\n\n" for chunk in _chunks(request, reply, calls)]
        try:
            for sent, event in enumerate([*events, "data: [DONE]\n\n"]):
                if reply.cut_after is not None and sent >= reply.cut_after:
                    self._drop()  # mid-body: the client sees an incomplete chunked read
                    return
                if sent and reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
                self._write_chunk(event.encode())
            self._write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout): stop quietly
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Close the connection at once, as a server that was killed does."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


# -- the OpenAI wire format ------------------------------------------------------------------------


def _completion(request: dict[str, Any], reply: Reply, calls: list[tuple[str, str, str]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in calls
        ]
    choice = {"index": 0, "message": message, "finish_reason": _finish_reason(reply, calls)}
    return _envelope(request, "chat.completion", [choice]) | {"usage": _usage(reply)}


def _chunks(
    request: dict[str, Any], reply: Reply, calls: list[tuple[str, str, str]]
) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return _envelope(request, "chat.completion.chunk", [choice])

    yield chunk({"role": "assistant", "content": ""})
    for piece in _text_pieces(reply.content or ""):
        yield chunk({"content": piece})
    for fragment in _interleaved_fragments(calls):
        yield chunk({"tool_calls": [fragment]})
    yield chunk({}, _finish_reason(reply, calls))
    if (request.get("stream_options") or {}).get("include_usage"):
        yield _envelope(request, "chat.completion.chunk", []) | {"usage": _usage(reply)}


def _interleaved_fragments(calls: Sequence[tuple[str, str, str]]) -> Iterator[dict[str, Any]]:
    """Each call's fragments (id, type and name on the first only), taken round-robin across calls."""
    per_call: list[list[dict[str, Any]]] = []
    for index, (call_id, name, arguments) in enumerate(calls):
        first = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        rest = [
            {"index": index, "function": {"arguments": arguments[start : start + ARGUMENT_FRAGMENT]}}
            for start in range(0, len(arguments), ARGUMENT_FRAGMENT)
        ]
        per_call.append([first, *rest])
    for round_ in itertools.zip_longest(*per_call):
        yield from (fragment for fragment in round_ if fragment is not None)


def _text_pieces(text: str) -> list[str]:
    """The text split after each word, so a multi-word text arrives in several chunks."""
    return re.findall(r"\S+\s*|\s+", text)


def _envelope(request: dict[str, Any], kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-loopback",
        "object": kind,
        "created": int(time.time()),
        "model": request.get("model", "loopback"),
        "choices": choices,
    }


def _usage(reply: Reply) -> dict[str, int]:
    prompt, completion = reply.usage or DEFAULT_USAGE
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _finish_reason(reply: Reply, calls: Sequence[object]) -> str:
    if reply.finish_reason is not None:
        return reply.finish_reason
    return "tool_calls" if calls else "stop"


def _invalid_arguments(request: dict[str, Any]) -> str | None:
    """What is wrong with the tool-call arguments of the request's assistant messages, if anything.

    llama.cpp parses them to render its chat template (vLLM does the same) and refuses the whole
    request when one is not JSON; a JSON value that is not an object fails most templates too.
    """
    for position, message in enumerate(request.get("messages") or []):
        for call in (message.get("tool_calls") or []) if isinstance(message, dict) else []:
            arguments = ((call or {}).get("function") or {}).get("arguments")
            try:
                parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                where = f"message {position}"
                return f"carries tool call arguments that are not a JSON object in {where}: {arguments!r}"
    return None


def _arguments(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = {
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
    }
    error_type = kind.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": error_type, "param": None, "code": str(status)}}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
