"""`kg tune`: fine-tune a graph's models on its feedback and generated questions, keeping only versions
that measure better on held-out questions. Each run writes a numbered version under
``<graph>/models/`` with a manifest; ``kgreason.open`` uses the active one."""
