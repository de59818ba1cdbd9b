"""Cache discipline: prefix markers, prompt_cache_key and the response cache."""
