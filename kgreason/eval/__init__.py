"""Evaluation of retrieval modes side by side: quality, latency and cost on real benchmarks (``kg eval``).

>>> from kgreason.eval import evaluate, compare
>>> report = evaluate("samples", "/tmp/eval-samples", modes=["bm25", "hybrid"])   # doctest: +SKIP
>>> print(compare("/tmp/eval-before", "/tmp/eval-samples"))                      # doctest: +SKIP
"""
from .datasets import Dataset, EvalQuestion, load_dataset
from .metrics import QuestionResult, answer_in_context, exact_match, f1_score, normalize_answer, recall_at_k, reciprocal_rank
from .report import EvalReport, compare, load_report
from .runner import evaluate

__all__ = [
    "Dataset", "EvalQuestion", "EvalReport", "QuestionResult", "answer_in_context", "compare", "evaluate",
    "exact_match", "f1_score", "load_dataset", "load_report", "normalize_answer", "recall_at_k", "reciprocal_rank",
]
