"""Context compaction: the endpoint, the engine, transcripts, the CLI."""
