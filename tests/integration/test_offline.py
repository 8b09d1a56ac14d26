"""No outbound connection: index, search and the web page run under an audit hook that records
every socket connect and DNS lookup the process attempts (Python and its libraries)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import ARTICLE, ROOT

pytestmark = pytest.mark.integration

PROBE = textwrap.dedent(
    """
    import json, socket, sys
    events = []

    def hook(event, args):
        if event == "socket.connect":
            events.append(["connect", repr(args[1])])
        elif event == "socket.getaddrinfo":
            events.append(["getaddrinfo", repr(args[0])])

    sys.addaudithook(hook)

    from pathlib import Path
    from bot.core.offline import enforce_offline
    enforce_offline()
    from bot.core.settings import Settings
    from bot.retrieval.indexer import build_index
    from bot.retrieval.retriever import Retriever
    from bot.answering.answerer import Answerer
    from bot.server.app import create_app
    from bot.server.service import AnswerService
    from fastapi.testclient import TestClient

    base = Path(sys.argv[1])
    s = Settings(corpus_dir=base / "corpus", index_dir=base / "index", data_dir=base / "data", mode="extractive")
    build_index(s)
    r = Retriever(s)
    hits = r.search("北奔重汽的氢能合作")
    app = create_app(s, AnswerService(s, Answerer(s, r)), warm=False)
    with TestClient(app) as client:
        page = client.get("/chat/")
        ready = client.get("/readyz")
        asked = client.post("/api/ask", json={"question": "北奔重汽和谁合作氢能？"})
        widget = client.get("/widget/")
        assert asked.status_code == 200 and widget.status_code == 200, (asked.text, widget.text)
    app_events = list(events)
    try:  # canary: proves the hook sees connections (port 9 is closed on loopback)
        socket.create_connection(("127.0.0.1", 9), timeout=0.5).close()
    except OSError:
        pass
    canary = events[len(app_events):]
    events = app_events
    print(json.dumps({"canary": canary, "events": events, "hits": len(hits), "page": page.status_code,
                      "ready": ready.status_code}))
    """
)


def test_no_outbound_connections(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    shutil.copy(ARTICLE, tmp_path / "corpus" / ARTICLE.name)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["hits"] > 0 and result["page"] == 200 and result["ready"] == 200
    assert result["canary"], "the audit hook saw nothing: the probe would miss real connections"
    assert result["events"] == [], result["events"]
