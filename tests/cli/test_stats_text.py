"""``stackbilt-gw stats`` wording: projected and realised savings apart, a loss said as a loss."""

from __future__ import annotations

from stackbilt_gateway.daemon.cli.control import _table, _verdict


def test_projected_and_realised_are_separate_columns_never_summed() -> None:
    row = {"key": "all requests", "requests": 3, "savings_projected_usd": 0.5, "savings_realised_usd": -0.2}
    header, _, line = _table("today", [row])
    assert "projected $" in header and "realised $" in header and "savings $" not in header
    assert "0.5000" in line and "-0.2000" in line and "0.3000" not in line  # not netted


def test_verdict_says_a_loss_as_a_loss() -> None:
    lines = _verdict({"savings_projected_usd": 0.25, "savings_realised_usd": -0.0712})
    assert lines == [
        "  projected: routing saves $0.2500",
        "  realised: routing costs $0.0712 more than serving as requested",
    ]
    assert _verdict({"savings_projected_usd": 0.0, "savings_realised_usd": 0.0}) == []
    effort = _verdict({"savings_effort_usd": 0.05})
    assert effort == ["  lower effort (an estimate, not included above): $0.0500"]
