"""The few Letta REST calls the export and import make, over urllib (no client library: the .af must travel
byte for byte, and the import is a multipart upload)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from scripts.operator_cli import OperatorError, one_line

EXIT_API = 4  # the server could not be reached or refused a call


class LettaApiError(OperatorError):
    """A call that failed, with the HTTP status (0 when no answer came)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, EXIT_API)
        self.status = status


class LettaApi:
    """``base_url`` with ``Authorization: Bearer <token>`` (the server password) on every call."""

    def __init__(self, base_url: str, token: str | None, *, timeout: float = 600.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None) -> bytes:
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:400].decode(errors="replace")
            raise LettaApiError(f"{method} {path}: HTTP {exc.code}: {one_line(detail)}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LettaApiError(f"{method} {path}: {self.base_url} not reachable: {reason}", 0) from None

    def json(self, method: str, path: str, payload: Any = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        raw = self._call(method, path, body=body, content_type="application/json" if body is not None else None)
        return json.loads(raw) if raw.strip() else None

    def export_agent(self, agent_id: str) -> bytes:
        """Letta's own agent file (``GET /v1/agents/{id}/export``), as the server serialized it."""
        return self._call("GET", f"/v1/agents/{quote(agent_id)}/export")

    def agent_secrets(self, agent_id: str) -> dict[str, str]:
        """The agent's tool environment variables in clear (the server decrypts them with its key)."""
        agent = self.json("GET", f"/v1/agents/{quote(agent_id)}?{urlencode({'include': 'agent.secrets'})}")
        return {str(s["key"]): str(s.get("value") or "") for s in agent.get("secrets") or []}

    def import_agent(self, agent_file: bytes, fields: dict[str, str]) -> list[str]:
        """``POST /v1/agents/import`` (multipart: the file and form ``fields``); the new agents' ids."""
        boundary = f"----letta-aurora-{uuid.uuid4().hex}"
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="agent.af"\r\n'
            "Content-Type: application/json\r\n\r\n".encode()
            + agent_file
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        raw = self._call(
            "POST", "/v1/agents/import", body=b"".join(parts), content_type=f"multipart/form-data; boundary={boundary}"
        )
        return [str(agent_id) for agent_id in json.loads(raw)["agent_ids"]]

    def archives_of(self, agent_id: str) -> list[dict[str, Any]]:
        return list(self.json("GET", f"/v1/archives/?{urlencode({'agent_id': agent_id})}") or [])

    def create_archive(self, *, name: str, description: str | None, embedding_config: dict[str, Any]) -> str:
        created = self.json(
            "POST", "/v1/archives/", {"name": name, "description": description, "embedding_config": embedding_config}
        )
        return str(created["id"])

    def attach_archive(self, agent_id: str, archive_id: str) -> None:
        self.json("PATCH", f"/v1/agents/{quote(agent_id)}/archives/attach/{quote(archive_id)}")

    def delete_archive(self, archive_id: str) -> None:
        self.json("DELETE", f"/v1/archives/{quote(archive_id)}")

    def delete_agent(self, agent_id: str) -> None:
        self.json("DELETE", f"/v1/agents/{quote(agent_id)}")
