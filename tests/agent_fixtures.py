"""Building an agent worth moving in a running rehearsal, through Letta's own API (tests of scripts/agents.py)."""

from __future__ import annotations

from typing import Any

from scripts.agent_export.letta_api import LettaApi
from scripts.local_stack import ECHO_EMBEDDING_HANDLE, ECHO_MODEL_HANDLE

TOPICS = ("sailing", "violin", "tax", "garden", "chess", "bread", "hiking", "python", "jazz", "coffee")


def passage_text(index: int) -> str:
    """Distinct texts whose word counts differ within a topic (ids 0-369), so that no two passages tie on
    distance to a one-topic query under the echo's hashed-bag-of-words embedding: the order is Letta's own."""
    topic = TOPICS[index % len(TOPICS)]
    filler = " ".join(f"w{index}n{j}" for j in range(index % 37))
    return f"Note {index} about {topic}: {filler}".rstrip()


def insert_passages_as_letta_does(dsn: str, agent_id: str, start: int, stop: int) -> None:
    """Passages ``start``..``stop``-1 straight into the agent's archive, the columns Letta's ORM fills (as
    scripts/memory_bench/load.py writes them), embedded with the echo endpoint's own function and zero-padded
    to 4096 as Letta pads: the same rows the API would have written, in a fraction of the time."""
    import uuid

    import psycopg

    from scripts.rehearsal.offline_llm import embed_text

    with psycopg.connect(dsn) as conn:
        archive_id, org, config = conn.execute(
            "SELECT p.archive_id, p.organization_id, p.embedding_config::text FROM archival_passages p "
            "JOIN archives_agents aa ON aa.archive_id = p.archive_id WHERE aa.agent_id = %s LIMIT 1",
            (agent_id,),
        ).fetchone()
        rows = []
        for i in range(start, stop):
            vector = embed_text(passage_text(i)) + [0.0] * (4096 - 1536)
            literal = "[" + ",".join(repr(v) for v in vector) + "]"
            rows.append(
                (
                    f"passage-{uuid.uuid4()}",
                    passage_text(i),
                    config,
                    {"n": i},
                    [TOPICS[i % 10]],
                    literal,
                    org,
                    archive_id,
                )
            )
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO archival_passages (id, text, embedding_config, metadata_, tags, embedding, created_at, "
                "updated_at, is_deleted, organization_id, archive_id) VALUES (%s, %s, %s::json, %s::json, %s::json, "
                "%s::vector, now(), now(), false, %s, %s)",
                [
                    (r[0], r[1], r[2], psycopg.types.json.Json(r[3]), psycopg.types.json.Json(r[4]), *r[5:])
                    for r in rows
                ],
            )
            cursor.executemany(
                "INSERT INTO passage_tags (id, tag, passage_id, archive_id, organization_id, is_deleted) "
                "VALUES (%s, %s, %s, %s, %s, false)",
                [(f"passage-tag-{uuid.uuid4()}", r[4][0], r[0], archive_id, org) for r in rows],
            )


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


def add_passages(api: LettaApi, agent_id: str, count: int) -> str:
    """``count`` passages through Letta's API, which embeds them: the first through the agent's archival-memory
    route (which creates its archive), the rest in one batch into that archive. Returns the archive's id."""
    api.json("POST", f"/v1/agents/{agent_id}/archival-memory", {"text": passage_text(0), "tags": ["first", "note"]})
    (archive,) = api.archives_of(agent_id)
    rows = [{"text": passage_text(i), "tags": [TOPICS[i % len(TOPICS)]], "metadata": {"n": i}} for i in range(1, count)]
    if rows:
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
