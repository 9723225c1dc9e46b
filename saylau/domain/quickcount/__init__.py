"""Quick count (parallel vote tabulation): sample design, estimator, discrepancy rule.

Pure domain code: no I/O, no clock; see docs/quickcount.md for the method.
"""
from __future__ import annotations

from saylau.domain.quickcount.discrepancy import (
    DISCREPANCY_CONFIDENCE,
    MIN_REPORTED,
    RULE_ID,
    Discrepancy,
    OfficialFigure,
    Readiness,
    discrepancies,
    final_count,
    national_readiness,
)
from saylau.domain.quickcount.estimation import (
    MAX_CONFIDENCE,
    Estimate,
    QuickCount,
    RegionCount,
    StationProtocol,
    StationTurnout,
    quick_count,
    ratio_estimate,
    separate_ratio_estimate,
    station_turnout,
    t_value,
    z_value,
)
from saylau.domain.quickcount.sampling import (
    MAX_SEED,
    METHOD,
    FrameStation,
    Sample,
    SampleCheck,
    Stratum,
    allocate,
    current_draw,
    draw_sample,
    frame_hash,
    replacement_refused,
    shuffle_step,
    verify_sample,
)

__all__ = [
    "DISCREPANCY_CONFIDENCE", "MAX_CONFIDENCE", "MAX_SEED", "METHOD", "MIN_REPORTED", "RULE_ID", "Discrepancy", "Estimate",
    "FrameStation", "OfficialFigure", "QuickCount", "Readiness", "RegionCount", "Sample",
    "SampleCheck", "StationProtocol", "StationTurnout", "Stratum", "allocate", "current_draw",
    "discrepancies",
    "draw_sample", "final_count", "frame_hash", "national_readiness", "quick_count",
    "ratio_estimate", "replacement_refused", "separate_ratio_estimate", "shuffle_step", "station_turnout", "t_value",
    "verify_sample", "z_value",
]
