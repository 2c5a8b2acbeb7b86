"""Answer generators behind ``reason.generate.Generator``: extractive, local LM, OpenAI-compatible server."""
