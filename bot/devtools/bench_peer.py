"""The peer for `qingshan-bot bench`: a tutorial LangChain RAG pipeline, written the way the
tutorials write it, so the comparison is against what people actually build first.

- the raw files, split by `RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`
  with its default separators;
- `langchain_chroma.Chroma` with the same embedding model, used plainly (no e5 prefixes);
- a retriever with k=4;
- the classic prompt: "Use the following pieces of retrieved context… If you don't know the
  answer, say that you don't know…";
- the same local GGUF through llama-cpp-python, with the same thread settings;
- history simply prepended to the question.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from bot.core.jsonl import Turn
from bot.core.settings import Settings

PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved context to "
    "answer the question. If you don't know the answer, say that you don't know. Use three sentences maximum "
    "and keep the answer concise.\n\nQuestion: {question}\n\nContext: {context}\n\nAnswer:"
)
# How the peer says it does not know; it has no `refused` flag of its own.
_DONT_KNOW = re.compile(
    r"don't know|do not know|not (mentioned|provided|specified|stated)|no information|cannot (answer|find)|"
    r"不知道|无法回答|没有(提到|提及|相关|给出|说明)|未(提及|提到|说明)|不清楚|无法确定",
    re.IGNORECASE,
)


def says_dont_know(text: str) -> bool:
    return bool(_DONT_KNOW.search(text))


class PlainEmbeddings(Embeddings):
    """LangChain's `Embeddings` interface over the same sentence-transformers model, no prefixes."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, v)) for v in self.model.encode(texts, normalize_embeddings=True)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class TutorialRAG:
    def __init__(self, settings: Settings, workdir: Path) -> None:
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter
        from llama_cpp import Llama
        from sentence_transformers import SentenceTransformer

        from bot.models.embedder import resolve_model
        from bot.models.llm import local_model_path

        docs = [
            Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name})
            for p in sorted(settings.corpus_dir.iterdir())
            if p.suffix in (".txt", ".md") and p.name != "README.md"
        ]
        splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
        embeddings = PlainEmbeddings(SentenceTransformer(str(resolve_model(settings)), device="cpu"))
        store = Chroma.from_documents(
            splits, embeddings, collection_name="tutorial", persist_directory=str(workdir / "peer-chroma")
        )
        self.chunks = len(splits)
        self.retriever = store.as_retriever(search_kwargs={"k": 4})
        self.llm = Llama(
            model_path=str(local_model_path(settings)),
            n_ctx=4096,
            n_threads=settings.llm_threads,
            n_threads_batch=settings.llm_threads_batch,
            verbose=False,
        )
        self.last_prompt_tokens = 0

    def stream(self, question: str, history: list[Turn], max_tokens: int = 200) -> Iterator[str]:
        docs = self.retriever.invoke(question)
        context = "\n\n".join(d.page_content for d in docs)
        asked = "".join(f"{t.role}: {t.content}\n" for t in history) + question
        prompt = PROMPT.format(question=asked, context=context)
        self.last_prompt_tokens = len(self.llm.tokenize(prompt.encode(), add_bos=False))
        chunks: Any = self.llm.create_chat_completion(
            messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0.0, stream=True
        )
        for chunk in chunks:
            delta = chunk["choices"][0].get("delta", {}).get("content")
            if delta:
                yield delta
