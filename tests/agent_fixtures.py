"""Building an agent worth moving in a running rehearsal, through Letta's own API (tests of scripts/agents.py)."""

from __future__ import annotations

from typing import Any

from scripts.agent_export.letta_api import LettaApi
from scripts.local_stack import ECHO_EMBEDDING_HANDLE, ECHO_MODEL_HANDLE

TOPICS = ("sailing", "violin", "tax", "garden", "chess", "bread", "hiking", "python", "jazz", "coffee")


def passage_text(index: int) -> str:
    topic = TOPICS[index % len(TOPICS)]
    return f"Note {index}: the user talked about {topic} on day {index // len(TOPICS)} and liked {topic} {index % 7}."


def create_agent(api: LettaApi, name: str) -> str:
    agent = api.json(
        "POST",
        "/v1/agents/",
        {
            "name": name,
            "memory_blocks": [{"label": "human", "value": "Name: Ada"}, {"label": "persona", "value": "A helper."}],
            "model": ECHO_MODEL_HANDLE,
            "embedding": ECHO_EMBEDDING_HANDLE,
        },
    )
    return str(agent["id"])


def add_passages(api: LettaApi, agent_id: str, count: int, *, batch: int = 100) -> str:
    """``count`` passages: the first through the agent's archival-memory route (which creates its archive), the
    rest in batches into that archive; Letta embeds them all (the echo endpoint's hashed bag of words)."""
    api.json("POST", f"/v1/agents/{agent_id}/archival-memory", {"text": passage_text(0), "tags": ["first", "note"]})
    (archive,) = api.archives_of(agent_id)
    for start in range(1, count, batch):
        rows = [
            {"text": passage_text(i), "tags": [TOPICS[i % len(TOPICS)]], "metadata": {"n": i}}
            for i in range(start, min(count, start + batch))
        ]
        api.json("POST", f"/v1/archives/{archive['id']}/passages/batch", {"passages": rows})
    return str(archive["id"])


def send(api: LettaApi, agent_id: str, text: str) -> dict[str, Any]:
    return api.json("POST", f"/v1/agents/{agent_id}/messages", {"messages": [{"role": "user", "content": text}]})


def search(api: LettaApi, agent_id: str, query: str, top_k: int = 10) -> list[str]:
    """Letta's archival search through the API: the passages' texts, best first."""
    from urllib.parse import urlencode

    found = api.json(
        "GET", f"/v1/agents/{agent_id}/archival-memory/search?{urlencode({'query': query, 'top_k': top_k})}"
    )
    return [str(r["content"]) for r in found["results"]]


def messages(api: LettaApi, agent_id: str) -> list[dict[str, Any]]:
    """Every message of the agent through the API, oldest first."""
    result: list[dict[str, Any]] = []
    after = None
    while True:
        query = "limit=1000&order=asc" + (f"&after={after}" if after else "")
        page = api.json("GET", f"/v1/agents/{agent_id}/messages?{query}")
        items = page if isinstance(page, list) else page.get("messages", page)
        if not items:
            return result
        result += items
        if len(items) < 1000:
            return result
        after = items[-1]["id"]
