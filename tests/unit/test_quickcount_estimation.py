"""The stratified ratio estimator and the discrepancy rule on small, hand-checkable samples."""
from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from saylau.domain.quickcount import (
    RULE_ID,
    OfficialFigure,
    QuickCount,
    Sample,
    StationProtocol,
    StationTurnout,
    Stratum,
    discrepancies,
    quick_count,
    ratio_estimate,
    separate_ratio_estimate,
    station_turnout,
    t_value,
    z_value,
)

DRAWN_AT = datetime(2021, 1, 9, 18, 0, tzinfo=UTC)
SAMPLE = Sample("s-1", "majilis-2021", "stratified-proportional-srswor-sha256-v1", 1, 5,
                "0" * 64, DRAWN_AT, (Stratum("A", 10, 1000, ("A1", "A2", "A3")),
                                     Stratum("B", 5, 500, ("B1", "B2"))))
TURNOUT = [StationTurnout("A1", 100, 50), StationTurnout("A2", 100, 60),
           StationTurnout("A3", 100, 80), StationTurnout("B1", 100, 30),
           StationTurnout("B2", 100, 50)]


def protocol(station_id: str, amanat: int, other: int) -> StationProtocol:
    return StationProtocol(station_id, {"Amanat": amanat, "Ak Zhol": other})


PROTOCOLS = [protocol("A1", 40, 10), protocol("A2", 45, 15), protocol("A3", 60, 20),
             protocol("B1", 15, 15), protocol("B2", 20, 30)]


def expected_turnout() -> tuple[float, float]:
    """The separate ratio estimator (Cochran 1977, §6.10) written out: A and B hold 1000 and
    500 registered voters, so W = 2/3 and 1/3; their ratios are 190/300 and 80/200."""
    r_a, r_b = 190 / 300, 80 / 200
    a = [50 - r_a * 100, 60 - r_a * 100, 80 - r_a * 100]
    b = [30 - r_b * 100, 50 - r_b * 100]

    def term(e: list[float], big_n: int) -> float:
        mean = sum(e) / len(e)
        s2 = sum((v - mean) ** 2 for v in e) / (len(e) - 1)
        return (1 - len(e) / big_n) * s2 / (len(e) * 100 ** 2)  # every x̄_h is 100

    variance = (2 / 3) ** 2 * term(a, 10) + (1 / 3) ** 2 * term(b, 5)
    return 100 * (2 / 3 * r_a + 1 / 3 * r_b), 100 * math.sqrt(variance)


def test_turnout_is_the_separate_ratio_with_linearised_variance_and_t_interval() -> None:
    count = quick_count(SAMPLE, TURNOUT, [], 0.95)
    estimate, std_error = expected_turnout()
    assert count.turnout is not None
    assert count.turnout.estimate == pytest.approx(estimate)
    assert count.turnout.std_error == pytest.approx(std_error)
    assert count.turnout.df == 3  # 5 stations in 2 strata
    assert count.turnout.ci_low == pytest.approx(estimate - 3.182446 * std_error)
    assert count.turnout.ci_high == pytest.approx(estimate + 3.182446 * std_error)
    assert count.sampled == count.reported == 5 and count.protocols == 0


def test_the_combined_ratio_variance_is_cochrans() -> None:
    """The combined estimator (used for shares), written out: weights N_h/n_h = 10/3, 5/2."""
    units = {"A": [(50.0, 100.0), (60.0, 100.0), (80.0, 100.0)],
             "B": [(30.0, 100.0), (50.0, 100.0)]}
    y, x = 10 / 3 * 190 + 5 / 2 * 80, 10 / 3 * 300 + 5 / 2 * 200
    r = y / x

    def term(e: list[float], big_n: int) -> float:
        mean = sum(e) / len(e)
        s2 = sum((v - mean) ** 2 for v in e) / (len(e) - 1)
        return big_n ** 2 * (1 - len(e) / big_n) * s2 / len(e)

    a = [50 - r * 100, 60 - r * 100, 80 - r * 100]
    b = [30 - r * 100, 50 - r * 100]
    found = ratio_estimate(units, {"A": 10, "B": 5}, 0.95)
    assert found and found.estimate == pytest.approx(100 * r)
    assert found.std_error == pytest.approx(100 * math.sqrt((term(a, 10) + term(b, 5)) / x ** 2))


def test_the_t_quantile_matches_the_tables() -> None:
    table = {(0.95, 1): 12.7062, (0.95, 3): 3.1824, (0.95, 10): 2.2281, (0.99, 30): 2.7500,
             (0.95, 120): 1.9799, (0.95, 500): 1.9647, (0.99, 1000): 2.5808}
    for (confidence, df), expected in table.items():
        assert t_value(confidence, df) == pytest.approx(expected, abs=1e-4)
    assert t_value(0.95, 10 ** 7) == pytest.approx(z_value(0.95), abs=1e-6)


def test_a_higher_confidence_gives_a_wider_interval_around_the_same_estimate() -> None:
    low, high = (quick_count(SAMPLE, TURNOUT, [], c).turnout for c in (0.9, 0.99))
    assert low and high and low.estimate == high.estimate
    assert high.ci_low < low.ci_low < low.ci_high < high.ci_high
    assert low.at(0.99) == high
    assert z_value(0.99) == pytest.approx(2.5758, abs=1e-4)
    with pytest.raises(ValueError, match="confidence"):
        z_value(1.0)


def test_a_census_of_every_stratum_has_no_sampling_error() -> None:
    frame = {"A": 3, "B": 2}
    units = {"A": [(50.0, 100.0), (60.0, 100.0), (80.0, 100.0)], "B": [(30.0, 100.0), (50.0, 100.0)]}
    estimate = ratio_estimate(units, frame, 0.95)
    assert estimate and estimate.std_error == 0 and estimate.estimate == pytest.approx(54.0)
    separate = separate_ratio_estimate(units, frame, {"A": 300, "B": 200}, 0.95)
    assert separate and separate.std_error == 0 and separate.estimate == pytest.approx(54.0)


def test_shares_are_ratios_of_party_votes_over_valid_votes() -> None:
    count = quick_count(SAMPLE, TURNOUT, PROTOCOLS, 0.95)
    amanat = 10 / 3 * 145 + 5 / 2 * 35
    valid = 10 / 3 * 190 + 5 / 2 * 80
    assert count.shares["Amanat"].estimate == pytest.approx(100 * amanat / valid)
    assert count.shares["Amanat"].estimate + count.shares["Ak Zhol"].estimate == pytest.approx(100)
    assert count.protocols == 5


def test_regions_are_estimated_on_their_own_stratum() -> None:
    count = quick_count(SAMPLE, TURNOUT, PROTOCOLS, 0.95)
    regions = {r.region: r for r in count.regions}
    assert regions["A"].turnout and regions["A"].turnout.estimate == pytest.approx(190 / 3)
    assert regions["B"].turnout and regions["B"].turnout.estimate == pytest.approx(40.0)
    assert regions["B"].shares["Amanat"].estimate == pytest.approx(35 / 80 * 100)
    assert (regions["A"].sampled, regions["A"].reported, regions["A"].protocols) == (3, 3, 3)


def test_late_stations_are_left_out_and_their_region_reweighted() -> None:
    count = quick_count(SAMPLE, TURNOUT[:4], [], 0.95)
    assert count.reported == 4 and count.turnout
    # B's one report now stands for B's 500 registered voters
    assert count.turnout.estimate == pytest.approx(100 * (2 / 3 * 190 / 300 + 1 / 3 * 0.3))


def test_a_region_with_one_report_counts_its_distance_from_the_national_ratio_as_error() -> None:
    count = quick_count(SAMPLE, TURNOUT[:4], [], 0.95)
    b = next(r for r in count.regions if r.region == "B")
    assert b.turnout and b.turnout.estimate == 30.0 and b.turnout.std_error > 0
    assert count.turnout and count.turnout.std_error > 0


def test_a_region_without_reports_is_named_missing() -> None:
    count = quick_count(SAMPLE, TURNOUT[:3], [], 0.95)
    assert count.missing_regions == ("B",)
    assert count.turnout and count.turnout.estimate == pytest.approx(190 / 3)
    assert next(r for r in count.regions if r.region == "B").turnout is None


def test_reports_from_stations_outside_the_sample_are_ignored() -> None:
    stray = StationTurnout("Z9", 100, 100)
    assert quick_count(SAMPLE, [*TURNOUT, stray], []) == quick_count(SAMPLE, TURNOUT, [])


def test_nothing_reported_yet_gives_no_estimate() -> None:
    count = quick_count(SAMPLE, [], [], 0.95)
    assert count.turnout is None and count.shares == {} and count.reported == 0


BIG = Sample("s-2", "majilis-2021", "stratified-proportional-srswor-sha256-v1", 1, 30,
             "0" * 64, DRAWN_AT, (Stratum("A", 100, 10000, tuple(f"A{i}" for i in range(20))),
                                  Stratum("B", 50, 5000, tuple(f"B{i}" for i in range(10)))))
BIG_TURNOUT = [*(StationTurnout(f"A{i}", 100, 50 + 5 * (i % 5)) for i in range(20)),
               *(StationTurnout(f"B{i}", 100, 30 + 5 * (i % 3)) for i in range(10))]
BIG_PROTOCOLS = [protocol(t.station_id, t.voters * 3 // 4, t.voters - t.voters * 3 // 4)
                 for t in BIG_TURNOUT]


def count_of(turnout: list[StationTurnout]) -> QuickCount:
    return quick_count(BIG, turnout, BIG_PROTOCOLS)


def national(turnout: float, **shares: float) -> OfficialFigure:
    return OfficialFigure("national", turnout, "CEC preliminary", None, shares)


def test_an_official_turnout_outside_the_99_percent_interval_is_a_discrepancy() -> None:
    found = discrepancies(count_of(BIG_TURNOUT), [national(63.3)])
    estimate = quick_count(BIG, BIG_TURNOUT, BIG_PROTOCOLS, 0.99).turnout
    assert estimate and estimate.ci_high < 63.3 and len(found) == 1
    alert = found[0].payload()
    assert alert["rule_id"] == RULE_ID == "quickcount.discrepancy"
    assert (alert["measure"], alert["official"], alert["sample_id"]) == ("turnout", 63.3, "s-2")
    assert (alert["estimate"], alert["ci_low"], alert["ci_high"]) == pytest.approx(
        (estimate.estimate, estimate.ci_low, estimate.ci_high))
    assert alert["confidence"] == 0.99 and alert["reported"] == alert["sampled"] == 30


def test_an_official_figure_inside_the_interval_is_not_a_discrepancy() -> None:
    estimate = count_of(BIG_TURNOUT).turnout
    assert estimate and discrepancies(count_of(BIG_TURNOUT), [national(estimate.estimate)]) == []


def test_no_discrepancy_before_80_percent_of_the_sample_reported() -> None:
    assert discrepancies(count_of(BIG_TURNOUT[:23]), [national(63.3)]) == []  # 23 of 30
    assert len(discrepancies(count_of(BIG_TURNOUT[:24]), [national(63.3)])) == 1  # 24 of 30


def test_shares_and_regional_figures_are_checked_too() -> None:
    count = quick_count(BIG, BIG_TURNOUT, BIG_PROTOCOLS, 0.99)
    figure = national(count.turnout.estimate if count.turnout else 0, Amanat=90.0)
    found = discrepancies(count_of(BIG_TURNOUT), [figure])
    assert [(d.measure, d.candidate) for d in found] == [("share", "Amanat")]
    regional = OfficialFigure("region", 80.0, "CEC", "A")
    found = discrepancies(count_of(BIG_TURNOUT), [regional])
    assert [(d.level, d.region, d.sampled) for d in found] == [("region", "A", 20)]
    unknown = OfficialFigure("region", 99.0, "CEC", "Nowhere")
    assert discrepancies(count_of(BIG_TURNOUT), [unknown]) == []


def test_no_national_discrepancy_while_a_stratum_has_no_reports() -> None:
    """26 of 30 reported, but none of region C's: the estimate re-weighted over A and B is not
    an estimate of the nation's figure, so the national figure is not judged; A's is."""
    three = Sample("s-3", "majilis-2021", "stratified-proportional-srswor-sha256-v1", 1, 30,
                   "0" * 64, DRAWN_AT, (*BIG.strata[:1], Stratum("B", 50, 5000, tuple(
                       f"B{i}" for i in range(6))), Stratum("C", 30, 3000, ("C0", "C1", "C2", "C3"))))
    reported = [t for t in BIG_TURNOUT if t.station_id not in {"B6", "B7", "B8", "B9"}]
    count = quick_count(three, reported, [p for p in BIG_PROTOCOLS if p.station_id in {
        t.station_id for t in reported}])
    assert count.reported == 26 and count.missing_regions == ("C",)
    assert discrepancies(count, [national(63.3, Amanat=90.0)]) == []
    assert [d.region for d in discrepancies(count, [OfficialFigure("region", 80.0, "CEC", "A")])
            ] == ["A"]
    late = [StationTurnout(f"C{i}", 100, 40) for i in range(4)]
    complete = quick_count(three, reported + late, [
        *(p for p in BIG_PROTOCOLS if p.station_id in {t.station_id for t in reported}),
        *(protocol(t.station_id, 30, 10) for t in late)])
    assert [d.measure for d in discrepancies(complete, [national(63.3, Amanat=90.0)])] == [
        "turnout", "share"]


def test_an_announcement_payload_reads_as_an_official_figure() -> None:
    figure = OfficialFigure.from_payload({"level": "region", "region": "A",
                                          "turnout_percent": 63.3, "source": "CEC"})
    assert figure == OfficialFigure("region", 63.3, "CEC", "A", {})


def test_a_station_counts_its_latest_hour_until_its_protocol_arrives() -> None:
    hourly = {10: 300, 18: 900, 14: 600}
    assert station_turnout("A1", 2000, hourly) == StationTurnout("A1", 2000, 900, final=False)
    assert station_turnout("A1", 2000, hourly, 1210) == StationTurnout("A1", 2000, 1210)
    assert station_turnout("A1", 2000, {}) is None
    assert station_turnout("A1", None, hourly) is None


def test_a_figure_is_final_with_the_protocol_or_the_count_at_the_closing_hour() -> None:
    hourly = {10: 300, 18: 900}
    assert not station_turnout("A1", 2000, hourly, final_hour=20).final  # an 18:00 count
    assert station_turnout("A1", 2000, {**hourly, 20: 1150}, final_hour=20) == StationTurnout(
        "A1", 2000, 1150, final=True)
    assert station_turnout("A1", 2000, hourly, 1210, final_hour=20).final
    assert station_turnout("A1", 2000, hourly, final_hour=18).final  # closes at 18:00
