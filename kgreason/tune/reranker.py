"""Training the cross-encoder reranker (``reason.rerank.CrossEncoderReranker``) for ``kg tune``.

It starts from the packaged all-MiniLM-L6-v2 weights (no pretrained reranker ships on the package
registry) with a fresh one-output head, or from the active version's reranker, and learns to put a
passage that answers a question above the hard negatives the retriever ranks highest: a listwise
softmax over (question, positive, negatives...) groups, written as a short PyTorch loop (no GPU or
``datasets`` needed; a GPU is used when present). The same data and seed give the same model.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence


@dataclass(frozen=True)
class RerankGroup:
    """A question, a passage that answers it, and passages that do not (hard negatives)."""

    question: str
    positive: str
    negatives: tuple[str, ...]


def train_reranker(base: Path, groups: Sequence[RerankGroup], out: Path, *, steps: int, batch_size: int = 8,
                   lr: float = 3e-5, seed: int = 0, max_length: int = 256,
                   progress: Callable[[int], None] = lambda n: None) -> Path:
    """Fine-tune a one-output sequence classifier from ``base`` for ``steps`` batches of ``groups``;
    save it (model and tokenizer) to ``out``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if not groups or any(not g.negatives for g in groups):
        raise ValueError("train_reranker: expected groups, each with at least one negative")
    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialised classifier weights": exactly what training is for
    try:
        model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1).to(device)
    finally:
        hf_logging.set_verbosity(verbosity)
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    n_neg = min(len(g.negatives) for g in groups)
    rng = random.Random(seed)
    for _ in range(steps):
        batch = [groups[rng.randrange(len(groups))] for _ in range(batch_size)]
        questions = [g.question for g in batch for _ in range(1 + n_neg)]
        passages = [p for g in batch for p in (g.positive, *g.negatives[:n_neg])]
        enc = tokenizer(questions, passages, truncation="only_second", padding=True, max_length=max_length,
                        return_tensors="pt").to(device)
        logits = model(**enc).logits.view(len(batch), 1 + n_neg)
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long, device=device))
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        progress(1)
    model.eval()
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    logging.getLogger(__name__).info("reranker saved to %s", out)
    return out
