"""The tests' independent cost function against figures computed by hand from COSTS.md."""

from __future__ import annotations

import ast
import json
import re

import pytest

from tests.costs.reference import (
    LONG_CONTEXT_BETA,
    PRICES,
    TIERS,
    Buckets,
    anthropic_buckets,
    openai_buckets,
    reference_cost,
)

BETA = frozenset({"claude-code-20250219", LONG_CONTEXT_BETA})


def test_the_reference_imports_nothing_of_the_product() -> None:
    tree = ast.parse((PRICES.parent.parent / "costs" / "reference.py").read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.startswith("stackbilt_gateway")]
    entries = json.loads(PRICES.read_text())
    assert {"anthropic/claude-sonnet-4-5", "openai/gpt-5.5"} <= {
        f"{e['provider']}/{e['model']}" for e in entries
    }


@pytest.mark.parametrize(
    ("model", "buckets", "expected"),
    [
        # COSTS.md §3: one turn at 100k context tokens, 1.5k output.
        ("claude-opus-4-5", Buckets(read=100_000, output=1_500), 0.050 + 0.0375),  # warm: $0.088
        ("claude-sonnet-4-5", Buckets(write_5m=100_000, output=1_500), 0.375 + 0.0225),  # cold: $0.398
        ("claude-haiku-4-5", Buckets(write_5m=100_000, output=1_500), 0.125 + 0.0075),  # cold: $0.133
    ],
)
def test_costs_md_switch_table(model: str, buckets: Buckets, expected: float) -> None:
    assert reference_cost("anthropic", model, buckets) == pytest.approx(expected)


def test_every_bucket_has_its_own_anthropic_rate() -> None:
    # Sonnet 4.5: 3 in, 15 out, 0.30 read, 3.75 5-minute write, 6 1-hour write (per MTok).
    b = Buckets(uncached=1_000, write_5m=2_000, write_1h=4_000, read=10_000, output=500)
    assert reference_cost("anthropic", "claude-sonnet-4-5", b) == pytest.approx(
        0.003 + 0.0075 + 0.024 + 0.003 + 0.0075
    )
    # A one-hour write costs 2x input, a five-minute one 1.25x: 100k tokens of each.
    assert reference_cost("anthropic", "claude-opus-4-5", Buckets(write_1h=100_000)) == pytest.approx(1.0)
    assert reference_cost("anthropic", "claude-opus-4-5", Buckets(write_5m=100_000)) == pytest.approx(0.625)


def test_dated_model_ids_find_their_entry() -> None:
    b = Buckets(uncached=1_000_000)
    assert reference_cost("anthropic", "claude-sonnet-4-5-20250929", b) == pytest.approx(3.0)


def test_unknown_models_have_no_reference_price() -> None:
    with pytest.raises(KeyError):
        reference_cost("anthropic", "claude-imaginary-9", Buckets(uncached=1))


# -- Sonnet 4 / 4.5 with the 1M beta above 200k total input ------------------------------------


def test_sonnet_45_long_context_bills_the_whole_request_at_2x_input_and_1_5x_output() -> None:
    b = Buckets(uncached=1_000, write_1h=60_000, read=150_000, output=2_000)  # 211k input
    # 6 in, 22.50 out, 0.60 read, 12 1-hour write.
    assert reference_cost("anthropic", "claude-sonnet-4-5", b, BETA) == pytest.approx(
        0.006 + 0.72 + 0.09 + 0.045
    )
    # Without the beta the request is billed at the base rates (the real API would refuse it).
    assert reference_cost("anthropic", "claude-sonnet-4-5", b) == pytest.approx(0.003 + 0.36 + 0.045 + 0.03)


def test_long_context_counts_writes_and_reads_and_starts_strictly_above_200k() -> None:
    at = Buckets(uncached=100, write_5m=99_900, read=100_000, output=1_000)  # exactly 200 000
    above = Buckets(uncached=101, write_5m=99_900, read=100_000, output=1_000)
    assert reference_cost("anthropic", "claude-sonnet-4-5", at, BETA) == pytest.approx(
        0.0003 + 0.374625 + 0.03 + 0.015
    )
    assert reference_cost("anthropic", "claude-sonnet-4-5", above, BETA) == pytest.approx(
        101 * 6e-6 + 99_900 * 7.5e-6 + 100_000 * 0.6e-6 + 1_000 * 22.5e-6
    )


def test_long_context_tier_is_only_sonnet_4_and_45() -> None:
    b = Buckets(uncached=250_000, output=1_000)
    assert reference_cost("anthropic", "claude-sonnet-4-6", b, BETA) == pytest.approx(0.75 + 0.015)
    assert reference_cost("anthropic", "claude-opus-4-5", b, BETA) == pytest.approx(1.25 + 0.025)


# -- OpenAI: cached inside the total, tiers above 272k -----------------------------------------


def test_openai_usage_subtracts_cached_from_the_total() -> None:
    responses = {
        "input_tokens": 100_000,
        "input_tokens_details": {"cached_tokens": 50_000},
        "output_tokens": 1_000,
        "output_tokens_details": {"reasoning_tokens": 400},
    }
    chat = {
        "prompt_tokens": 100_000,
        "completion_tokens": 1_000,
        "prompt_tokens_details": {"cached_tokens": 50_000},
    }
    for usage in (responses, chat):
        b = openai_buckets(usage)
        assert b == Buckets(uncached=50_000, read=50_000, output=1_000)
        # gpt-5.5: 5 in, 30 out, 0.50 cached; reasoning is inside the output and billed once.
        assert reference_cost("openai", "gpt-5.5", b) == pytest.approx(0.25 + 0.025 + 0.03)


def test_gpt_55_above_272k_bills_10_45_1() -> None:
    b = openai_buckets(
        {"input_tokens": 300_000, "input_tokens_details": {"cached_tokens": 200_000}, "output_tokens": 5_000}
    )
    assert reference_cost("openai", "gpt-5.5", b) == pytest.approx(1.0 + 0.2 + 0.225)
    at = Buckets(uncached=72_000, read=200_000, output=5_000)  # exactly 272 000: base rates
    assert reference_cost("openai", "gpt-5.5", at) == pytest.approx(0.36 + 0.1 + 0.15)


def test_chat_host_cached_price() -> None:
    # Groq gpt-oss-120b: 0.15 in, 0.60 out, 0.075 cached.
    b = openai_buckets(
        {
            "prompt_tokens": 20_000,
            "completion_tokens": 100,
            "prompt_tokens_details": {"cached_tokens": 10_000},
        }
    )
    assert reference_cost("groq", "openai/gpt-oss-120b", b) == pytest.approx(0.0015 + 0.00075 + 0.00006)


# -- usage parsing -------------------------------------------------------------------------------


def test_anthropic_usage_splits_writes_by_lifetime() -> None:
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 5_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
        "output_tokens": 7,
    }
    assert anthropic_buckets(usage) == Buckets(uncached=10, write_5m=100, write_1h=200, read=5_000, output=7)
    assert anthropic_buckets({**usage, "cache_creation": None}).write_5m == 300
    with pytest.raises(ValueError):
        anthropic_buckets({**usage, "cache_creation_input_tokens": 301})


def test_every_tier_in_the_notes_is_written_down_by_hand() -> None:
    """Each ``>NNNK`` / ``>NNNk tokens`` price note of the copy has a hand tier with its numbers."""
    for entry in json.loads(PRICES.read_text()):
        note = entry.get("note") or ""
        found = re.search(
            r">\s*(\d+)K(?: tokens)?:\s*([\d.]+)\s*(?:in\s*)?/\s*([\d.]+)\s*(?:out\s*)?/\s*([\d.]+)",
            note,
            re.I,
        )
        if not found:
            continue
        key = f"{entry['provider']}/{entry['model']}"
        tier = TIERS[key]
        above, rates = int(found.group(1)) * 1000, [float(found.group(i)) for i in (2, 3, 4)]
        assert (tier.above, tier.input, tier.output, tier.cache_read) == (above, *rates), key
    assert {k for k, t in TIERS.items() if not t.factors} == {
        "anthropic/claude-haiku-5-5",
        "openai/gpt-5.5",
        "openai/gpt-5.4",
        "openai/gpt-5.6-sol",
        "openai/gpt-5.6-terra",
        "openai/gpt-5.6-luna",
    }
