"""A loopback upstream that speaks enough of OpenAI's and Anthropic's HTTP APIs for the gateway
tests (Python stdlib only): a ThreadingHTTPServer on 127.0.0.1, port 0, in a thread of its own.

    fake = FakeLLM().start()      # fake.url is http://127.0.0.1:<port>
    ...
    fake.stop()

Routes (any path prefix before them is accepted, so one fake serves several bindings whose
base_url adds a prefix; the prefix chooses a mode):
  POST .../v1/chat/completions  a chat completion; `"stream": true` answers text/event-stream,
                                `data: {chunk}\\n\\n` per chunk (chunked transfer encoding),
                                `stream_delay` seconds apart, then `data: [DONE]`.
  GET  .../v1/models            a model list.
  POST .../v1/messages          an Anthropic message (plain).
Modes, by the first path segment:
  /echo/...      answers 200 JSON with the credential headers it received (Authorization,
                 x-api-key, the query string, and the token's raw and base64 forms and a basic
                 credential decoded) in the body, the Authorization it got in `X-Echo-Auth`, and
                 a Set-Cookie header.
  /redirect/...  answers 302 with Location: <this fake>/target/...; /target/ is recorded as any
                 other request, so a test sees whether it was followed.
  /slow/...      streams `data: {"n": i}` events, `slow_interval` seconds apart, up to
                 `slow_events`, until the client goes away; `stream_ended` says how it ended.
  /split/...     answers text/plain "before <token> after" (the token from Authorization or
                 x-api-key) in two chunks split inside the token, 50 ms apart.
  /status/NNN    answers NNN with a small JSON body.
Every request is recorded in `requests` (method, path, query, lower-cased headers, body), for
tests asserting which credential reached the upstream and which never did."""
import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorded:
    def __init__(self, method, path, query, headers, body):
        self.method, self.path, self.query, self.headers, self.body = (method, path, query,
                                                                        headers, body)

    def __repr__(self):  # names no header value: they hold credentials
        return f"<Recorded {self.method} {self.path}>"


class FakeLLM:
    def __init__(self, stream_delay=0.0, stream_chunks=("Hel", "lo", " there", "!"),
                 slow_interval=0.1, slow_events=600):
        self.stream_delay = stream_delay
        self.stream_chunks = list(stream_chunks)
        self.slow_interval = slow_interval
        self.slow_events = slow_events
        self.requests = []
        self.stream_ended = []  # per /slow/ stream: "complete" or "client gone"
        self.lock = threading.Lock()
        self.httpd = None
        self.thread = None
        self.url = None
        self.port = None

    def __repr__(self):
        return f"<FakeLLM {self.url}>"

    def start(self):
        fake = self

        class Handler(_Handler):
            owner = fake

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fake-llm",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(10)
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def record(self, rec):
        with self.lock:
            self.requests.append(rec)

    def calls(self, path_part=""):
        """The recorded requests whose path contains `path_part`."""
        with self.lock:
            return [r for r in self.requests if path_part in r.path]

    def header_values(self):
        """Every header value any request carried (to assert a credential never arrived)."""
        with self.lock:
            return [v for r in self.requests for v in r.headers.values()]

    def clear(self):
        with self.lock:
            self.requests.clear()
            self.stream_ended.clear()


def chat_completion(model, content):
    return {"id": "chatcmpl-fake1", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}


def chat_chunk(model, delta, finish=None):
    return {"id": "chatcmpl-fake1", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": finish}]}


def read_chunked(rfile, on_chunk=None):
    """A chunked request body from `rfile`; `on_chunk(bytes_so_far)` after each chunk."""
    out = b""
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return out
        out += rfile.read(size)
        rfile.readline()
        if on_chunk is not None:
            on_chunk(len(out))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    owner = None  # the FakeLLM, set by a subclass

    def log_message(self, *args):  # quiet: the request line may carry a query credential
        pass

    # --- plumbing ---------------------------------------------------------------------------
    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return read_chunked(self.rfile)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send_json(self, status, obj, extra_headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", "req_fake")
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _start_chunked(self, content_type="text/event-stream"):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # --- dispatch -------------------------------------------------------------------------------
    def _handle(self):
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, split.query
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.owner.record(Recorded(self.command, path, query, headers, body))
        mode = path.split("/")[1] if path.startswith("/") and path.count("/") > 1 else ""
        if mode == "echo":
            return self._echo(headers, query)
        if mode == "redirect":
            rest = path[len("/redirect"):]
            self.send_response(302)
            self.send_header("Location", f"{self.owner.url}/target{rest}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if mode == "slow":
            return self._slow()
        if mode == "split":
            return self._split(headers)
        if mode == "status":
            code = int(path.split("/")[2])
            return self._send_json(code, {"status": code})
        if path.endswith("/v1/chat/completions") and self.command == "POST":
            return self._chat(body)
        if path.endswith("/v1/models") and self.command in ("GET", "HEAD"):
            return self._send_json(200, {"object": "list", "data": [
                {"id": "gpt-fake", "object": "model", "created": 0, "owned_by": "fake"}]})
        if path.endswith("/v1/messages") and self.command == "POST":
            return self._message(body)
        return self._send_json(200, {"ok": True, "method": self.command, "path": path,
                                     "query": query, "body_bytes": len(body)})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _chat(self, body):
        req = json.loads(body or b"{}")
        model = req.get("model", "gpt-fake")
        if not req.get("stream"):
            return self._send_json(200, chat_completion(model, "Hello there!"))
        self._start_chunked()
        chunks = self.owner.stream_chunks
        try:
            self._chunk(b"data: " + json.dumps(
                chat_chunk(model, {"role": "assistant", "content": ""})).encode() + b"\n\n")
            for i, piece in enumerate(chunks):
                if i and self.owner.stream_delay:
                    time.sleep(self.owner.stream_delay)
                self._chunk(b"data: " + json.dumps(
                    chat_chunk(model, {"content": piece})).encode() + b"\n\n")
            self._chunk(b"data: " + json.dumps(chat_chunk(model, {}, "stop")).encode() +
                        b"\n\n")
            self._chunk(b"data: [DONE]\n\n")
            self._end_chunked()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        return None

    def _message(self, body):
        req = json.loads(body or b"{}")
        return self._send_json(200, {
            "id": "msg_fake1", "type": "message", "role": "assistant",
            "model": req.get("model", "claude-fake"),
            "content": [{"type": "text", "text": "Hello from the fake."}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 5, "output_tokens": 4}})

    def _echo(self, headers, query):
        auth = headers.get("authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else auth
        basic = ""
        if auth.lower().startswith("basic "):
            try:
                basic = base64.b64decode(token).decode()
            except ValueError:
                basic = ""
        api_key = headers.get("x-api-key", "")
        secret = token or api_key
        echoed = {"authorization": auth, "x_api_key": api_key, "query": query,
                  "token": secret,
                  "token_b64": base64.b64encode(secret.encode()).decode() if secret else "",
                  "basic_decoded": basic,
                  "token_pct": urllib.parse.quote(secret, safe="")}
        extra = [("X-Echo-Auth", auth or api_key), ("Set-Cookie", "session=fake; Path=/")]
        return self._send_json(200, echoed, extra)

    def _split(self, headers):
        auth = headers.get("authorization", "")
        token = (auth.split(" ", 1)[1] if " " in auth else auth) or headers.get("x-api-key", "")
        body = f"before {token} after".encode()
        cut = len("before ") + len(token) // 2
        self._start_chunked("text/plain")
        try:
            self._chunk(body[:cut])
            time.sleep(0.05)
            self._chunk(body[cut:])
            self._end_chunked()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _slow(self):
        self._start_chunked()
        owner = self.owner
        try:
            for i in range(owner.slow_events):
                self._chunk(b"data: " + json.dumps({"n": i}).encode() + b"\n\n")
                time.sleep(owner.slow_interval)
            self._end_chunked()
            with owner.lock:
                owner.stream_ended.append(("complete", time.monotonic()))
        except (BrokenPipeError, ConnectionResetError):
            with owner.lock:
                owner.stream_ended.append(("client gone", time.monotonic()))
            self.close_connection = True
        return None


if __name__ == "__main__":  # a standalone streaming upstream (bench/gateway): prints its URL
    import sys
    fake = FakeLLM(stream_delay=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0).start()
    print(fake.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
