"""Context compaction: a coding-agent transcript in, structured durable facts out.

``transcript`` parses Anthropic ``messages``, Responses ``input`` items and Claude Code JSONL
session files into redacted, tool-summarised entries; ``schema`` owns the output contract and
its validator; ``chunking`` sizes chunks to the model's window; ``prompts`` words the map and
merge calls; ``engine`` runs map → merge with one validation retry per call; ``upstream``
picks the model and makes each call through the gateway's own upstream client and codecs.
Served by ``POST /v1/context/compact`` (``http.compact_bp``) and ``stackbilt-gw compact``.
"""
