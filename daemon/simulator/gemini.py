"""A simulated Google Gemini API / Vertex AI upstream and its OAuth token endpoint.

One ASGI app on loopback speaking the real wire: ``POST …/models/<model>:generateContent`` (JSON)
and ``…:streamGenerateContent?alt=sse`` (SSE), under the Gemini API's ``/v1beta`` (key in
``x-goog-api-key``) and Vertex AI's ``/v1/projects/<p>/locations/<l>/publishers/google`` (a Bearer
access token this fake issued and that has not expired). ``POST /token`` implements the
service-account JWT-bearer grant: it checks the RS256 assertion against the account's public key,
its audience (this endpoint's URL), scope and expiry, and issues tokens living ``token_lifetime``
seconds. What the model says comes from ``markers.MarkerScript`` (the request is shown to it as a
Chat Completions body); every function call carries a ``thoughtSignature`` and a later request
whose model turn calls a function without one this fake issued (or Gemini's documented skip
value) is refused 400, as Gemini 3 does. Owns its own control surface (``requests``,
``token_requests``, ``fail_next``, ``expire_tokens``); serving is ``threaded.ThreadedServer``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .markers import MarkerScript
from .reply import Call, Reply
from .threaded import HOST, ThreadedServer
from .upstream import _json, _lifespan, _read_body, _respond

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
SKIP_SIGNATURE = "skip_thought_signature_validator"
USAGE = {"promptTokenCount": 700, "cachedContentTokenCount": 200, "candidatesTokenCount": 25}


@dataclass
class GeminiCall:
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    model: str
    stream: bool


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _chat_view(body: dict[str, Any]) -> dict[str, Any]:
    """The request as a Chat Completions body, for the markers script."""
    messages: list[dict[str, Any]] = []
    for content in body.get("contents") or []:
        role = content.get("role")
        for part in content.get("parts") or []:
            if "functionResponse" in part:
                response = part["functionResponse"].get("response") or {}
                text = response.get("result", response.get("error", ""))
                messages.append(
                    {"role": "tool", "content": text if isinstance(text, str) else json.dumps(text)}
                )
            elif "text" in part and not part.get("thought"):
                messages.append({"role": "user" if role == "user" else "assistant", "content": part["text"]})
    return {"model": None, "messages": messages}


@dataclass
class FakeGemini:
    host: str = HOST
    port: int = 0
    api_key: str = "gemini-fake-key"
    public_key: rsa.RSAPublicKey | None = None
    client_email: str = "gateway@fake-project.iam.gserviceaccount.com"
    token_lifetime: int = 3600
    token_delay: float = 0.0
    script: MarkerScript = field(default_factory=MarkerScript)
    requests: list[GeminiCall] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    signatures: set[str] = field(default_factory=set)
    replayed_signatures: list[str] = field(default_factory=list)
    _tokens: dict[str, float] = field(default_factory=dict)
    _failures: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _served: int = 0
    _server: ThreadedServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def start(self) -> FakeGemini:
        if self.host != HOST:
            raise ValueError("the fake upstream binds 127.0.0.1 only")
        self._server = ThreadedServer(self, port=self.port, name="fake-gemini", graceful_timeout=1.0).start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.token_requests.clear()
            self.replayed_signatures.clear()
            self._failures.clear()
            self.token_lifetime, self.token_delay = 3600, 0.0

    def fail_next(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._failures.append((status, body, headers or {}))

    def expire_tokens(self, tokens: Iterable[str]) -> None:
        """These access tokens stop working now."""
        with self._lock:
            for token in tokens:
                if token in self._tokens:
                    self._tokens[token] = 0.0

    def calls(self, suffix: str) -> list[GeminiCall]:
        return [c for c in self.requests if c.path.endswith(suffix)]

    # -- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        raw = await _read_body(receive)
        path: str = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] == "POST" and path == "/token":
            await self._token(send, raw)
            return
        method = path.rpartition(":")[2]
        if (
            scope["method"] != "POST"
            or "/models/" not in path
            or method
            not in (
                "generateContent",
                "streamGenerateContent",
            )
        ):
            await _error(send, 404, "NOT_FOUND", f"no such path {path}")
            return
        stream = method == "streamGenerateContent"
        model = path.rpartition("/models/")[2].rpartition(":")[0]
        try:
            body = json.loads(raw)
        except ValueError:
            await _error(send, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            return
        with self._lock:
            self.requests.append(GeminiCall(path, query, headers, body, model, stream))
            self._served += 1
            number = self._served
            failure = self._failures.pop(0) if self._failures else None
        denied = self._check_auth(path, headers)
        if denied is not None:
            await _error(
                send,
                401 if "UNAUTH" in denied else 403,
                denied,
                "Request had invalid authentication credentials.",
            )
            return
        if failure is not None:
            status, fbody, fheaders = failure
            await _respond(
                send, status, json.dumps(fbody).encode(), {"content-type": "application/json", **fheaders}
            )
            return
        if stream and query != "alt=sse":
            await _error(send, 400, "INVALID_ARGUMENT", "the fake serves streams only as alt=sse")
            return
        problem = self._check_body(body)
        if problem is not None:
            await _error(send, 400, "INVALID_ARGUMENT", problem)
            return
        reply = self.script.reply(Call("chat", _chat_view(body), raw, None, number, headers))
        thinking = bool(
            ((body.get("generationConfig") or {}).get("thinkingConfig") or {}).get("includeThoughts")
        )
        chunks = self._chunks(reply, model, number, thinking)
        if not stream:
            await _json(send, 200, _merge(chunks))
            return
        frames = b"".join(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks)
        await _respond(send, 200, frames, {"content-type": "text/event-stream"})

    def _check_auth(self, path: str, headers: dict[str, str]) -> str | None:
        if path.startswith("/v1beta/"):
            return None if headers.get("x-goog-api-key") == self.api_key else "PERMISSION_DENIED"
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self._lock:
            expiry = self._tokens.get(token)
        return None if expiry is not None and expiry > time.time() else "UNAUTHENTICATED"

    def _check_body(self, body: dict[str, Any]) -> str | None:
        if not isinstance(body.get("contents"), list) or not body["contents"]:
            return "contents is not specified"
        for decl in (t.get("functionDeclarations") or [] for t in body.get("tools") or []):
            for fn in decl:
                if "additionalProperties" in json.dumps(fn.get("parameters", {})):
                    return 'Invalid JSON payload received. Unknown name "additionalProperties"'
        for content in body["contents"]:
            if content.get("role") not in ("user", "model"):
                return f"Please use a valid role: user, model (got {content.get('role')!r})"
            calls = [p for p in content.get("parts") or [] if "functionCall" in p]
            if content["role"] == "model" and calls:
                signature = calls[0].get("thoughtSignature")
                if signature != SKIP_SIGNATURE and signature not in self.signatures:
                    return "Function call is missing a thought_signature in functionCall parts."
                self.replayed_signatures.append(signature)
        return None

    def _chunks(self, reply: Reply, model: str, number: int, thinking: bool) -> list[dict[str, Any]]:
        rid = f"fake-gemini-{number}"
        usage = dict(USAGE)
        parts: list[dict[str, Any]] = []
        if thinking and reply.thinking:
            parts += [{"text": t, "thought": True} for t in reply.thinking]
            usage["thoughtsTokenCount"] = 12
        parts += [{"text": t} for t in reply.text]
        if reply.tool is not None:
            signature = (
                "fake-gemini-sig-" + hashlib.sha256(f"{rid}:{reply.tool.arguments}".encode()).hexdigest()[:20]
            )
            self.signatures.add(signature)
            call = {"name": reply.tool.name, "args": reply.tool.args}
            parts.append({"functionCall": call, "thoughtSignature": signature})
        usage["totalTokenCount"] = (
            usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage.get("thoughtsTokenCount", 0)
        )
        chunks: list[dict[str, Any]] = [
            {
                "candidates": [{"content": {"role": "model", "parts": [p]}, "index": 0}],
                "modelVersion": model,
                "responseId": rid,
            }
            for p in parts
        ] or [{"candidates": [{"content": {"role": "model", "parts": []}, "index": 0}], "responseId": rid}]
        chunks[-1]["candidates"][0]["finishReason"] = "STOP"
        chunks[-1]["usageMetadata"] = usage
        return chunks

    async def _token(self, send: Any, raw: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(raw.decode("latin-1")).items()}
        record: dict[str, Any] = {"form": form}
        with self._lock:
            self.token_requests.append(record)
        problem = self._check_assertion(form, record)
        if problem is not None:
            await _json(send, 400, {"error": "invalid_grant", "error_description": problem})
            return
        if self.token_delay:
            import asyncio

            await asyncio.sleep(self.token_delay)
        with self._lock:
            token = f"ya29.fake-{len(self._tokens) + 1}-{int(time.time() * 1000)}"
            self._tokens[token] = time.time() + self.token_lifetime
        await _json(
            send, 200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _check_assertion(self, form: dict[str, str], record: dict[str, Any]) -> str | None:
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return "Invalid grant_type"
        pieces = form.get("assertion", "").split(".")
        if len(pieces) != 3:
            return "Invalid JWT"
        try:
            header = json.loads(_b64decode(pieces[0]))
            claims = json.loads(_b64decode(pieces[1]))
            signature = _b64decode(pieces[2])
        except ValueError:
            return "Invalid JWT encoding"
        record.update(header=header, claims=claims)
        if header.get("alg") != "RS256" or self.public_key is None:
            return "Invalid JWT algorithm"
        try:
            self.public_key.verify(
                signature, f"{pieces[0]}.{pieces[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return "Invalid JWT Signature."
        record["verified"] = True
        if claims.get("aud") != self.token_uri:
            return "Invalid JWT: audience"
        if SCOPE not in str(claims.get("scope", "")).split():
            return "Invalid JWT: scope"
        if claims.get("iss") != self.client_email:
            return "Invalid JWT: issuer"
        now = time.time()
        if not (claims.get("iat", 0) <= now + 60 and claims.get("exp", 0) > now):
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe"
        return None


def _merge(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """A non-streaming body: every chunk's parts in one candidate (text parts joined)."""
    parts: list[dict[str, Any]] = []
    for chunk in chunks:
        for part in chunk["candidates"][0]["content"]["parts"]:
            if (
                parts
                and "text" in part
                and "text" in parts[-1]
                and part.get("thought") == parts[-1].get("thought")
            ):
                parts[-1] = {**parts[-1], "text": parts[-1]["text"] + part["text"]}
            else:
                parts.append(dict(part))
    last = chunks[-1]
    candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
    return {
        "candidates": [candidate],
        "usageMetadata": last["usageMetadata"],
        "responseId": last["responseId"],
    }


async def _error(send: Any, status: int, name: str, message: str) -> None:
    await _json(send, status, {"error": {"code": status, "message": message, "status": name}})
