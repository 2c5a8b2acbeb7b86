"""Documents in, kgreason records out: loading, chunking, entity and relation extraction, resolution."""
