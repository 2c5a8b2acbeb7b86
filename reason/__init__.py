"""Question plus graph in, answer out: linking, retrieval (dense, BM25, graph walks), context, generation."""
