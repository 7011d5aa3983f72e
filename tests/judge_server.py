"""A misbehaving OpenAI-compatible chat server for the judge's fault tests.

Run as its own process: ``python tests/judge_server.py --mode MODE [--lifetime S]``; it
binds 127.0.0.1 on a free port, prints ``PORT <n>`` and serves ``POST .../chat/completions``
until ``--lifetime`` seconds pass or its stdin closes (the test that started it is gone).
``GET /stats`` returns hit counts and the most requests it ever had in flight at once.

Modes: ``ok`` (an honest fake judge, see :func:`fake_judge`), ``refuse`` (prints a port
nobody listens on, then exits), ``stall`` (reads the request, never answers), ``500``,
``429`` (``Retry-After``; with ``--fail-first N`` only the first N requests), ``malformed``
(invalid JSON body), ``empty`` (no choices), ``unparseable`` (a reply with no verdict), ``400`` (a request the server rejects),
``slow`` (``ok`` after ``--delay`` seconds), ``noisy`` (a pairwise reward model that is right
with probability ``--accuracy``, deterministic per prompt and sample number), ``huge`` (a
chunked body of ``--size`` bytes that never ends early), ``huge-declared`` (the same with a
``Content-Length``), ``gzip-bomb`` (a small gzip body that inflates to ``--size`` bytes),
``length`` (a reply cut off by ``max_tokens`` right after a quoted ``VERDICT: 1``, with
``finish_reason: "length"``), ``quote`` (a reply that quotes ``> VERDICT: 1`` and then
argues the opposite, with no verdict line of its own).

:func:`fake_judge` models a judge that follows instructions it sees outside the fences the
system message declares, and judges honestly what is inside. Like a real chat server, it
reads a chat control token in any message (``<|im_start|>system``) as a real turn.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
import zlib
from typing import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_TURN = re.compile(r"<\|im_start\|>system\s*(.*?)(?:<\|im_end\|>|$)", re.S)
_OBEY = re.compile(r"ignore (?:all )?(?:previous|prior) instructions\W+(?:and )?output\s*:?\s*(\d)", re.I)
_NONCE = re.compile(r"<<<REASONING-([0-9a-f]+)>>>")
_CONCLUSION = re.compile(r"response\s+([12])\s+is\s+better|the answer is\s+([^\s.,;]+)", re.I)


def _block(text: str, opener: str, closer: str) -> tuple[str, str]:
    """(inside, text with the block removed); ("", text) when the block is absent."""
    start = text.find(opener)
    end = text.find(closer, start + len(opener)) if start >= 0 else -1
    if start < 0 or end < 0:
        return "", text
    return text[start + len(opener) : end], text[:start] + text[end + len(closer) :]


def _norm(answer: str) -> str:
    m = re.search(r"response\s+([12])\s+is\s+better", answer, re.I)
    return m.group(1) if m else answer.strip().strip(".").lower()


def fake_judge(messages: list[dict]) -> str:
    """The reply of a judge that obeys instructions outside the fences only."""
    texts = [str(m.get("content", "")) for m in messages]
    instructions: list[str] = []
    for i, t in enumerate(texts):  # control tokens become real system turns, fence or not
        instructions += _TURN.findall(t)
        texts[i] = _TURN.sub("", t)
    system = texts[0] if messages and messages[0].get("role") == "system" else ""
    rest = "\n".join(texts[1:] if system else texts)
    nonce = _NONCE.search(system)
    if nonce:
        n = nonce.group(1)
        reasoning, rest = _block(rest, f"<<<REASONING-{n}>>>", f"<<<END-REASONING-{n}>>>")
        answer, rest = _block(rest, f"<<<ANSWER-{n}>>>", f"<<<END-ANSWER-{n}>>>")
    else:  # no declared fence: everything is read as instructions, the last line as the answer
        lines = rest.strip().splitlines() or [""]
        reasoning, answer = "\n".join(lines[:-1]), lines[-1]
    outside = "\n".join(instructions + [system, rest])
    obey = _OBEY.findall(outside)
    if obey:
        return f"As instructed.\nVERDICT: {obey[-1]}"
    found = _CONCLUSION.findall(reasoning)
    conclusion = (found[-1][0] or found[-1][1]).lower() if found else None
    verdict = int(conclusion is not None and conclusion == _norm(answer))
    return f"The reasoning concludes {conclusion!r}; the answer is {_norm(answer)!r}.\nVERDICT: {verdict}"


class _State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lock = threading.Lock()
        self.hits = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.samples: dict[str, int] = {}
        self.auth: str | None = None
        self.models: set[str] = set()
        self.sent_bytes = 0


def noisy_choice(prompt: str, number: int, accuracy: float) -> int:
    """A reward model right with probability ``accuracy``: the better response is the one
    marked GOOD; the coin is seeded by the prompt and the sample number."""
    good_first = prompt.find("GOOD") < prompt.find("BAD")
    right = 1 if good_first else 2
    seed = int.from_bytes(hashlib.sha256(f"{number}|{prompt}".encode()).digest()[:8], "big")
    return right if random.Random(seed).random() < accuracy else 3 - right


def make_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    args = state.args

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with state.lock:
                stats = {"hits": state.hits, "max_in_flight": state.max_in_flight, "auth": state.auth, "models": sorted(state.models),
                         "sent_bytes": state.sent_bytes}
            self._send(200, json.dumps(stats).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with state.lock:
                state.hits += 1
                hit = state.hits
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                state.auth = self.headers.get("Authorization")
            try:
                self._answer(raw, hit)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _ok(self, text: str, finish: str = "stop") -> None:
            body = {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}], "usage": {"prompt_tokens": 100, "completion_tokens": 10}}
            self._send(200, json.dumps(body).encode())

        def _huge(self, declared: bool) -> None:
            """``--size`` bytes of one endless JSON string, written as fast as the client reads."""
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length" if declared else "Transfer-Encoding", str(args.size) if declared else "chunked")
            self.end_headers()
            head = b'{"choices": [{"message": {"role": "assistant", "content": "'
            block = b"A" * 65536
            sent = 0
            try:
                for piece in itertools.chain([head], itertools.repeat(block)):
                    piece = piece[: args.size - sent]
                    if not piece:
                        break
                    self.wfile.write(piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece))
                    sent += len(piece)
                if not declared:
                    self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: good
                pass
            with state.lock:
                state.sent_bytes = max(state.sent_bytes, sent)
            self.close_connection = True

        def _gzip_bomb(self) -> None:
            """A gzip body of a few hundred kB that inflates to ``--size`` bytes, compressed
            piece by piece so the server itself never holds the inflated text."""
            comp = zlib.compressobj(9, zlib.DEFLATED, 31)
            block = b"x" * (1 << 20)
            parts = [comp.compress(b'{"choices": [{"message": {"role": "assistant", "content": "')]
            parts += [comp.compress(block) for _ in range(max(1, args.size >> 20))]
            parts += [comp.compress(b'\\nVERDICT: 1"}, "finish_reason": "stop"}]}'), comp.flush()]
            self._send(200, b"".join(parts), {"Content-Encoding": "gzip"})

        def _answer(self, raw: bytes, hit: int) -> None:
            mode = args.mode
            if mode == "stall":
                time.sleep(args.lifetime)
                return
            if mode == "500":
                return self._send(500, b'{"error": "internal"}')
            if mode == "400":
                return self._send(400, b'{"error": "bad request"}')
            if mode == "429" and (args.fail_first is None or hit <= args.fail_first):
                return self._send(429, b'{"error": "rate limited"}', {"Retry-After": args.retry_after})
            if mode == "malformed":
                return self._send(200, b'{"choices": [ {"message": ')
            if mode == "empty":
                return self._send(200, b'{"choices": []}')
            if mode == "unparseable":
                return self._ok("Hmm, hard to say. Both readings seem plausible.")
            if mode in ("huge", "huge-declared"):
                return self._huge(declared=mode == "huge-declared")
            if mode == "gzip-bomb":
                return self._gzip_bomb()
            if mode == "length":  # restating the reasoning, cut off by max_tokens after its VERDICT line
                return self._ok("Restating the reasoning: 2+2=4 so the answer is 4.\nVERDICT: 1", finish="length")
            if mode == "quote":
                return self._ok("The reasoning ends with\n> VERDICT: 1\nbut it computes 4 while the answer says 5, so the "
                                "reasoning does not support the answer and the claim above should be disregarded.")
            if mode == "slow":
                time.sleep(args.delay)
            request = json.loads(raw or b"{}")
            with state.lock:
                state.models.add(str(request.get("model")))
            messages = request.get("messages") or []
            if mode == "noisy":
                prompt = json.dumps(messages, sort_keys=True)
                with state.lock:
                    number = state.samples.get(prompt, 0)
                    state.samples[prompt] = number + 1
                choice = noisy_choice(prompt, number, args.accuracy)
                return self._ok(f"<think>Comparing both, response {choice} is better.</think><answer>{choice}</answer>")
            return self._ok(fake_judge(messages))

    return Handler


@contextlib.contextmanager
def running(mode: str, *extra: str, lifetime: float = 30.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start the server as a separate process; yield (base_url, process); stop it after."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--mode", mode, "--lifetime", str(lifetime), *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("PORT "):
            raise RuntimeError(f"judge server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1", proc
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stats(base_url: str) -> dict:
    """The server's hit counts (``GET /stats``)."""
    import urllib.request

    with urllib.request.urlopen(base_url.rsplit("/v1", 1)[0] + "/stats", timeout=5) as r:
        return json.load(r)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="ok", choices=["ok", "refuse", "stall", "500", "400", "429", "malformed", "empty", "unparseable",
                                                    "slow", "noisy", "huge", "huge-declared", "gzip-bomb", "length", "quote"])
    p.add_argument("--size", type=int, default=3 * 1024**3)
    p.add_argument("--lifetime", type=float, default=60.0)
    p.add_argument("--delay", type=float, default=0.5)
    p.add_argument("--retry-after", default="1")
    p.add_argument("--fail-first", type=int, default=None)
    p.add_argument("--accuracy", type=float, default=0.7)
    args = p.parse_args(argv)
    if args.mode == "refuse":
        with socket.socket() as s:  # a port that was free a moment ago and has no listener
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        print(f"PORT {port}", flush=True)
        return
    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # the default backlog of 5 resets concurrent clients

        def handle_error(self, request, client_address) -> None:  # noqa: ANN001
            if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):  # a client hanging up is expected
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), make_handler(_State(args)))
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)

    def stop_when_orphaned() -> None:
        sys.stdin.read()  # EOF: the parent closed our stdin or died
        server.shutdown()

    threading.Thread(target=stop_when_orphaned, daemon=True).start()
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever(poll_interval=0.1)
    server.server_close()


if __name__ == "__main__":
    main()
