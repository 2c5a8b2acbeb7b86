"""Fine-tuning the local reader for ``kg tune``: LoRA on a small causal LM, served by llama.cpp.

The base is the packaged Qwen2.5-Coder 0.5B (its GGUF dequantised once into a transformers folder by
``reason.generators.local_lm``), or any transformers causal LM. Training examples are the reader's own
task: the numbered context the answer pipeline builds for a training question (gold passages among the
retriever's distractors), and as target the JSON reply ``reason.generators.local`` asks for, citing the
sources that hold the answer. Every ``ablate_every``-th question is also shown with its gold documents
excluded from retrieval, with "not found" as target, so the reader learns to abstain when the evidence
is missing instead of guessing (a question whose answer is still written elsewhere is skipped).

LoRA (peft) adapts the attention and MLP projections of the top ``layers`` layers only, so the backward
pass stops halfway down the model; bfloat16 on CPUs that have it (AVX512-BF16), float32 otherwise, a
GPU when present. The adapter is written twice: as peft's folder (the next ``kg tune`` continues from
it) and as a llama.cpp GGUF LoRA adapter that ``kg.llamacpp`` applies on top of the same base GGUF, so
the tuned reader runs at the base model's speed with a few MB on disk per version.

>>> json.loads(reply_text("Stanley", [2]))
{'answer': 'Stanley', 'sources': [2], 'found': True}
>>> json.loads(reply_text("", []))["found"]
False
"""
from __future__ import annotations

import json
import logging
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from kg.errors import ConfigError

from .data import TrainingQuestion

BASE_READER = "qwen2.5-0.5b"
READER_VALIDATION = 20  # held-out questions each reader answers for the gate (~7 s an answer for the 0.5B)
READER_STEPS = 120  # kg tune's default: single-example steps, ~7.4 s each on 2 cores, ~15 min (benchmarks/tune_folds.py)
ADAPTER_FILE = "adapter.gguf"
CLOSED_BOOK_DIR = "closed_book"  # a version's closed-book reader, beside reader/
LORA_DIR = "lora"
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# transformers module path -> llama.cpp tensor name, for the llama-style architectures (llama, qwen2, mistral)
GGUF_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
              "mlp.down_proj": "ffn_down"}
_LORA_KEY = re.compile(r"layers\.(\d+)\.((?:self_attn|mlp)\.\w+)\.lora_([AB])\.weight$")
YES_NO = ("yes", "no")


@dataclass(frozen=True)
class ReaderExample:
    """The reader's messages for one question's context, and the reply it should give."""

    question: str
    messages: tuple[tuple[str, str], ...]  # (role, content)
    reply: str
    answerable: bool


def reply_text(answer: str, sources: Sequence[int]) -> str:
    """The JSON reply ``reason.generators.local`` parses: found exactly when there is an answer."""
    return json.dumps({"answer": answer, "sources": list(sources), "found": bool(answer)})


def reader_examples(kb, questions: Sequence[TrainingQuestion], *, token_budget: int, ablate_every: int = 3,
                    k: int | None = None) -> list[ReaderExample]:
    """Training examples for the questions that have an answer (see the module docstring)."""
    out = []
    for i, q in enumerate(q for q in questions if q.answer):
        example = _example(kb, q, kb.retrieve(q.question, k=k, mode="hybrid"), token_budget, ablated=False)
        if example is not None:
            out.append(example)
        if ablate_every and i % ablate_every == 0:
            docs = {kb.graph.passages[p].doc_id for p in q.positives if p in kb.graph.passages}
            ablated = kb.retriever.retrieve(q.question, k=k, mode="hybrid", exclude=docs)
            example = _example(kb, q, ablated, token_budget, ablated=True)
            if example is not None:
                out.append(example)
    return out


def _example(kb, q: TrainingQuestion, retrieval, token_budget: int, ablated: bool) -> ReaderExample | None:
    """The example for one retrieval, or None when its target would be a guess: the gold passages are
    there but do not write the answer out (an alias, a paraphrase), or an ablated context still states it."""
    from reason.context import build_context
    from reason.generators.local import answer_messages
    from reason.text import contains_phrase

    context = build_context(retrieval, kb.graph, token_budget)
    if not context.sources:
        return None
    gold = [s.number for s in context.sources if s.evidence.passage_id in q.positives]
    if q.answer.casefold() in YES_NO:  # a comparison: answerable when every compared passage is there
        stating = gold if set(q.positives) <= {s.evidence.passage_id for s in context.sources} else []
    else:
        stating = [s.number for s in context.sources if contains_phrase(f"{s.title} {s.text}", q.answer)]
    messages = tuple((m["role"], m["content"]) for m in answer_messages(context))
    if stating and not ablated:
        cited = gold if set(gold) & set(stating) else stating[:2]
        return ReaderExample(q.question, messages, reply_text(q.answer, cited), True)
    if not stating and not gold:
        return ReaderExample(q.question, messages, reply_text("", []), False)
    return None


def closed_book_examples(questions: Sequence[TrainingQuestion]) -> list[ReaderExample]:
    """Closed-book examples for the questions that have an answer: the question alone (no sources) and
    its answer as the reply ``reason.generators.closed_book`` parses. What such a reader learns, it
    learns into its weights: the ``ft`` arm of ``kg eval --arms``."""
    from reason.generators.closed_book import closed_book_messages, closed_book_reply

    return [ReaderExample(q.question, tuple((m["role"], m["content"]) for m in closed_book_messages(q.question)),
                          closed_book_reply(q.answer), True) for q in questions if q.answer]


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX); float32 is faster otherwise."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def base_reader_folder(model: str = BASE_READER) -> tuple[str, Path]:
    """(the llama.cpp model setting, the transformers folder to train from) for ``model``: a packaged
    GGUF name or a .gguf path (dequantised once into the cache), or a transformers folder (which
    llama.cpp cannot serve, so the adapter is only usable when a GGUF of the same model is named)."""
    from kg.cache import cache_root
    from kg.llamacpp import resolve_model
    from reason.generators.local_lm import ModelSource, local_folder

    path = Path(model).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return model, path
    gguf = resolve_model(model)
    return model, local_folder(ModelSource(gguf.parent, gguf.name), cache_root())


def train_reader(base: Path, examples: Sequence[ReaderExample], out: Path, *, steps: int, lr: float = 2e-4,
                 rank: int = 8, alpha: int = 16, layers: int = 12, seed: int = 0, max_length: int = 2048,
                 start: Path | None = None, progress: Callable[[int], None] = lambda n: None) -> Path:
    """LoRA-fine-tune the causal LM in ``base`` on ``examples`` for ``steps`` single-example steps (loss
    on the reply only), continuing from the peft adapter in ``start`` when given; save the adapter to
    ``out/lora`` and ``out/adapter.gguf``. The same examples and seed give the same adapter."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        from peft import LoraConfig, PeftModel, get_peft_model
    except ImportError:
        raise ConfigError("kg tune: training the reader needs peft, part of the llm extra: "
                          "pip install \"kgreason[llm]\" (or --reader-steps 0 to train no reader)") from None
    if not examples:
        raise ConfigError("kg tune: no reader training examples: the training questions need answers whose "
                          "passages the retriever finds (import labelled questions or add generated ones)")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" or cpu_has_bf16() else torch.float32
    from transformers.utils import logging as hf_logging

    tokenizer = AutoTokenizer.from_pretrained(str(base))
    hf_logging.disable_progress_bar()  # kg tune draws its own bar; a second one per load is noise
    try:
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype).to(device)
    finally:
        hf_logging.enable_progress_bar()
    n_layers = model.config.num_hidden_layers
    if start is not None:
        model = PeftModel.from_pretrained(model, str(start), is_trainable=True)
    else:
        config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                            target_modules=list(TARGET_MODULES),
                            layers_to_transform=list(range(max(0, n_layers - layers), n_layers)))
        model = get_peft_model(model, config)
    encoded = [e for e in (encode(tokenizer, ex, max_length) for ex in examples) if e is not None]
    if not encoded:
        raise ConfigError(f"kg tune: every reader example is longer than {max_length} tokens")
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.0)
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.1, 1 - s / max(steps, 1)))
    order: list[int] = []
    model.train()
    for _ in range(steps):
        if not order:  # every example once per epoch, in a seeded order
            order = list(range(len(encoded)))
            rng.shuffle(order)
        ids, labels = encoded[order.pop()]
        loss = model(input_ids=torch.tensor([ids], device=device), labels=torch.tensor([labels], device=device)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimiser.step()
        scheduler.step()
        optimiser.zero_grad()
        progress(1)
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out / LORA_DIR))
    export_gguf_adapter(model, out / ADAPTER_FILE)
    logging.getLogger(__name__).info("reader adapter saved to %s", out)
    return out


def encode(tokenizer, example: ReaderExample, max_length: int) -> tuple[list[int], list[int]] | None:
    """(input ids, labels) of prompt + reply through the model's chat template; labels are -100 on the
    prompt, so the loss is on the reply (and its end-of-turn token) only. None when too long."""
    messages = [{"role": r, "content": c} for r, c in example.messages]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": example.reply}], tokenize=False)
    if not full.startswith(prompt):
        raise ConfigError("kg tune: the reader model's chat template does not extend the prompt with the reply")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    reply_ids = tokenizer(full[len(prompt):].rstrip("\n"), add_special_tokens=False)["input_ids"]
    if len(prompt_ids) + len(reply_ids) > max_length:
        return None
    return prompt_ids + reply_ids, [-100] * len(prompt_ids) + reply_ids


def export_gguf_adapter(model, path: Path) -> Path:
    """Write the LoRA weights of a peft model as a llama.cpp adapter GGUF (lora_a: rank x in, lora_b:
    out x rank, per adapted tensor), atomically. llama.cpp stores a llama model's query and key rows
    permuted for its rotary embedding (transformers undoes that when it loads a GGUF), so lora_b of
    those two is permuted the same way; qwen2 and others are stored as they are."""
    import gguf
    from peft import get_peft_model_state_dict

    config = model.config
    arch, alpha = config.model_type, float(model.peft_config["default"].lora_alpha)
    heads = {"self_attn.q_proj": config.num_attention_heads,
             "self_attn.k_proj": getattr(config, "num_key_value_heads", None) or config.num_attention_heads}
    tensors: list[tuple[str, Any]] = []
    for key, value in sorted(get_peft_model_state_dict(model).items()):
        m = _LORA_KEY.search(key)
        if m is None or m.group(2) not in GGUF_NAMES:
            raise ConfigError(f"kg tune: cannot map LoRA weight {key!r} to a llama.cpp tensor name")
        name = f"blk.{int(m.group(1))}.{GGUF_NAMES[m.group(2)]}.weight.lora_{m.group(3).lower()}"
        array = value.detach().float().cpu().numpy()
        if arch == "llama" and m.group(3) == "B" and m.group(2) in heads:
            array = rope_permute(array, heads[m.group(2)])
        tensors.append((name, array))
    tmp = path.with_name(f".{path.name}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", alpha)
    for name, array in tensors:
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, path)
    return path


def rope_permute(rows, n_head: int):
    """llama.cpp's row order for a llama query/key projection: per head, the two rotary halves interleaved.

    >>> import numpy as np
    >>> rope_permute(np.arange(4).reshape(4, 1), 1)[:, 0].tolist()
    [0, 2, 1, 3]
    """
    return rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def reader_scores(kb, generator, questions: Sequence[TrainingQuestion]) -> dict[str, float]:
    """Mean F1 and the share answered over ``questions`` (those with an answer), read by ``generator``
    from ``kb``'s hybrid retrieval: the reader's validation measure."""
    from reason.answer import answer

    return _answer_scores(questions, lambda q: answer(kb.retrieve(q.question, mode="hybrid"), kb.graph, generator,
                                                      token_budget=kb.generate_config.context_tokens))


def closed_book_scores(reader, questions: Sequence[TrainingQuestion]) -> dict[str, float]:
    """Mean F1 and the share answered over ``questions`` (those with an answer), answered by the
    closed-book ``reader`` with no sources: the closed-book reader's validation measure."""
    return _answer_scores(questions, lambda q: reader.answer(q.question))


def _answer_scores(questions: Sequence[TrainingQuestion], read) -> dict[str, float]:
    """F1 and share answered of ``read(question)`` (anything with ``text`` and ``found``) over the questions
    that have an answer; a reply cut off or off-schema counts as a wrong answer, not a crash."""
    from kg.errors import BackendError

    from ..eval.metrics import f1_score

    scores, found = [], []
    for q in (q for q in questions if q.answer):
        try:
            a = read(q)
            text, ok = a.text, a.found
        except BackendError:
            text, ok = "", False
        scores.append(f1_score(text if ok else "", [q.answer]))
        found.append(ok)
    n = max(len(scores), 1)
    return {"f1": round(sum(scores) / n, 4), "answered": round(sum(found) / n, 4), "questions": len(scores)}
