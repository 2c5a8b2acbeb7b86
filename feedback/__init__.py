"""Feedback on answers, from people and from judge models, and the training questions generated from a
graph: what `kg tune` learns from. It imports only the graph core (``kg``)."""
