"""Property-based fuzzing of the HTTP API from its own OpenAPI document (schemathesis): every
operation, valid and invalid bodies, and not one server error. The server is the real app with
the real embedding model in extractive mode (no local LLM in the fuzzing settings, so asking
for `local` must be a clear 4xx, not a 5xx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from bot.answering.answerer import Answerer
from bot.core.settings import Settings
from bot.server.app import create_app
from bot.server.service import AnswerService

pytestmark = pytest.mark.integration
EXAMPLES = 100  # per operation and mode: 6 POST operations x 2 modes -> 1,200 cases, plus the GETs


@pytest.fixture(scope="module")
def fuzz_schema(real_retriever: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    base: Path = tmp_path_factory.mktemp("fuzz")
    s = Settings(
        corpus_dir=real_retriever.settings.corpus_dir,
        index_dir=real_retriever.settings.index_dir,
        cache_dir=base / "cache",  # no local model here
        data_dir=base / "data",
        rate_limit_per_minute=0,
        rate_limit_rejected_per_minute=0,  # it sends hundreds of invalid bodies on purpose
    )
    app = create_app(s, AnswerService(s, Answerer(s, real_retriever)), warm=False)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors(fuzz_schema: Any) -> None:
    # Driven by hand rather than by schemathesis' pytest plugin, which breaks on this pytest.
    counts: dict[str, int] = {}
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        # Valid bodies, then schema-violating ones (a GET without parameters has no invalid form).
        modes = list(GenerationMode) if operation.method.upper() == "POST" else [GenerationMode.POSITIVE]
        for mode in modes:
            _fuzz_one(operation, mode, counts)
    assert len(counts) >= 10, counts
    assert sum(counts.values()) >= 1000, counts


def _fuzz_one(operation: Any, mode: Any, counts: dict[str, int]) -> None:
    label = f"{operation.label} ({mode.value})"

    @given(case=operation.as_strategy(mode))
    @hsettings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        counts[label] = counts.get(label, 0) + 1
        case.call_and_validate(checks=[not_a_server_error])

    fuzz()
