"""PMF source apportionment, the platform's side (governance.md §3.11): input checks, the EPA PMF 5.0 uncertainty and
S/N conventions, species categories and the results of a run, checked against the spec's figures on the Baltimore
example (governance.md §8 check 4) and its ESAT 2025.0.1 reference run — no ESAT environment needed here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bogda.tracing import apportionment as ap
from bogda.tracing import esat
from bogda.tracing.apportionment import ApportionmentError
from tracing_reference import REFERENCE_SETTINGS, baltimore_pair, baltimore_record

# --------------------------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------------------------


def test_reads_the_baltimore_pair_dropping_its_empty_rows() -> None:
    conc, unc = baltimore_pair()
    # 657 data lines, the last 27 empty in every cell → 630 samples (the data's SOURCES.md)
    assert conc.shape == (630, 26) and unc.shape == (630, 26)
    assert conc.index[0] == "12/14/2000" and conc.index[-1] == "7/5/2007"
    assert conc.columns[0] == "PM2.5" and "OM" in conc.columns
    ap.check_pair(conc, unc)


def test_a_cell_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text("Date,SO4,NO3\n1/1/2020,1.0,2.0\n1/2/2020,1.5,n.d.\n", encoding="utf-8")
    with pytest.raises(ApportionmentError, match=r"line 3, species 'NO3': 'n.d.' is not a number"):
        ap.read_matrix(p)


def test_blank_cells_are_missing_and_duplicate_samples_refused(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text("Date,SO4\n1/1/2020,1.0\n1/2/2020,\n", encoding="utf-8")
    m = ap.read_matrix(p)
    assert m.shape == (2, 1) and np.isnan(m.iloc[1, 0])
    p.write_text("Date,SO4\n1/1/2020,1.0\n1/1/2020,2.0\n", encoding="utf-8")
    with pytest.raises(ApportionmentError, match="sample '1/1/2020' appears twice"):
        ap.read_matrix(p)


def test_the_pair_is_checked_cell_by_cell() -> None:
    c = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 1.0]}, index=["s1", "s2"])
    u = pd.DataFrame({"a": [0.1, 0.2], "b": [0.1, 0.1]}, index=["s1", "s2"])
    ap.check_pair(c, u)
    with pytest.raises(ApportionmentError, match="species differ"):
        ap.check_pair(c, u[["b", "a"]])
    with pytest.raises(ApportionmentError, match="differ in their samples"):
        ap.check_pair(c, u.rename(index={"s2": "s3"}))
    neg = c.copy()
    neg.loc["s2", "b"] = -0.5
    with pytest.raises(ApportionmentError, match=r"concentration of 'b' at sample 's2' is negative"):
        ap.check_pair(neg, u)
    zero = u.copy()
    zero.loc["s1", "a"] = 0.0
    with pytest.raises(ApportionmentError, match=r"uncertainty of 'a' at sample 's1' is 0.0: it must be > 0"):
        ap.check_pair(c, zero)


def test_pmf_uncertainty_matches_the_spec_examples() -> None:
    # governance.md §8 check 5: MDL 0.1, EF 0.1: C = 0.05 → (0.05, 0.0833); C = 2.0 → U = 0.2062
    c, u = ap.pmf_uncertainty(0.05, 0.1)
    assert c == pytest.approx(0.05) and u == pytest.approx(0.0833, abs=5e-5)
    c, u = ap.pmf_uncertainty(2.0, 0.1)
    assert c == 2.0 and u == pytest.approx(0.2062, abs=5e-5)


def test_uncertainty_matrix_fills_missing_and_excludes_species_without_mdl() -> None:
    conc = pd.DataFrame({"SO4": [0.05, 2.0, np.nan, 4.0], "Pb": [1.0, 1.0, 1.0, 1.0]}, index=list("abcd"))
    c, u, messages = ap.uncertainty_matrix(conc, {"SO4": 0.1})
    assert list(c.columns) == ["SO4"]
    assert any("Pb: no detection limit" in m for m in messages)
    assert c["SO4"].tolist() == pytest.approx([0.05, 2.0, 2.0, 4.0])  # missing → median of 0.05, 2, 4
    assert u["SO4"].iloc[2] == pytest.approx(8.0)  # 4 × median
    assert u["SO4"].iloc[1] == pytest.approx(0.2062, abs=5e-5)
    with pytest.raises(ApportionmentError, match="no species has a detection limit"):
        ap.uncertainty_matrix(conc, {})


# --------------------------------------------------------------------------------------------------------------
# Species selection (computable without ESAT)
# --------------------------------------------------------------------------------------------------------------


def test_signal_to_noise_and_categories_equal_the_reference_run() -> None:
    import json

    from sharedata import require_shared

    ref = json.loads(
        (require_shared("source_apportionment", "reference_run") / "baltimore_6f_run.json").read_text(encoding="utf-8")
    )
    conc, unc = baltimore_pair()
    sn = ap.signal_to_noise(conc, unc)
    # governance.md §8 check 4: PM2.5 9.000, Sulfate 17.137, Lead 0.513, Aluminum 0.098
    assert sn["PM2.5"] == pytest.approx(9.000, abs=5e-4)
    assert sn["Sulfate"] == pytest.approx(17.137, abs=5e-4)
    assert sn["Lead"] == pytest.approx(0.513, abs=5e-4)
    assert sn["Aluminum"] == pytest.approx(0.098, abs=5e-4)
    cats = ap.categorize(sn, mass=ap.mass_column(list(conc.columns)))
    assert cats == {name: category for name, category, _ in ref["categories"]}
    assert [s for s, c in cats.items() if c != "bad"] == ref["features"]  # the 17 species kept
    for name, _, value in ref["categories"]:
        assert sn[name] == pytest.approx(value, abs=5e-4), name


def test_category_overrides_are_checked() -> None:
    sn = pd.Series({"PM2.5": 9.0, "Lead": 0.513})
    assert ap.categorize(sn, mass="PM2.5", overrides={"Lead": "bad"}) == {"PM2.5": "weak", "Lead": "bad"}
    with pytest.raises(ApportionmentError, match="'Zinc', which is not a species"):
        ap.categorize(sn, overrides={"Zinc": "weak"})
    with pytest.raises(ApportionmentError, match="category 'medium'"):
        ap.categorize(sn, overrides={"Lead": "medium"})


def test_prepare_refuses_too_few_samples_or_species() -> None:
    conc, unc = baltimore_pair()
    with pytest.raises(ApportionmentError, match="50 samples: PMF needs at least 100"):
        esat.prepare(conc.iloc[:50], unc.iloc[:50], REFERENCE_SETTINGS)
    with pytest.raises(ApportionmentError, match=r"species kept .* for 6 factors"):
        keep = ["PM2.5", "Sulfate", "Zinc", "Iron"]
        esat.prepare(conc[keep], unc[keep], REFERENCE_SETTINGS)


# --------------------------------------------------------------------------------------------------------------
# Results of the reference run (ESAT 2025.0.1 outputs)
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def record() -> dict:
    return baltimore_record()


def test_pm25_by_factor_matches_the_spec(record: dict) -> None:
    rows = {r["factor"]: r for r in record["mass"] if r["group"] == "all"}
    # governance.md §8 check 4: F1–F6 0.48, 4.32, 0.13, 1.99, 1.46, 5.69 µg/m³ (sum 14.07; observed 15.57)
    for factor, value in zip(("F1", "F2", "F3", "F4", "F5", "F6"), (0.48, 4.32, 0.13, 1.99, 1.46, 5.69), strict=True):
        assert rows[factor]["mass"] == pytest.approx(value, abs=0.005), factor
    assert rows["F1"]["modelled_total"] == pytest.approx(14.07, abs=0.005)
    assert rows["F1"]["observed_mean"] == pytest.approx(15.57, abs=0.005)
    assert sum(r["share"] for r in rows.values()) == pytest.approx(1.0)


def test_fingerprints_match_the_spec(record: dict) -> None:
    prints = esat.frame_of(record["fingerprints"])
    # K⁺ 96 % F1, Cu 59 % F1, OC 44 % F2, Zn 87 % F3, nitrate 72 % F4, Fe 80 % F5, Ca 77 % F5, sulfate 71 % F6,
    # NH4⁺ 51 % F6
    expected = {
        ("F1", "Potassium Ion"): 0.96,
        ("F1", "Copper"): 0.59,
        ("F2", "Organic Carbon"): 0.44,
        ("F3", "Zinc"): 0.87,
        ("F4", "Total Nitrate"): 0.72,
        ("F5", "Iron"): 0.80,
        ("F5", "Calcium"): 0.77,
        ("F6", "Sulfate"): 0.71,
        ("F6", "Ammonium Ion"): 0.51,
    }
    for (factor, species), share in expected.items():
        assert prints.loc[factor, species] == pytest.approx(share, abs=0.006), (factor, species)
    assert prints.sum(axis=0).to_numpy() == pytest.approx(np.ones(prints.shape[1]))


def test_marker_labels_read_the_factors_as_the_data_notes_do(record: dict) -> None:
    # SOURCES.md: F1 potassium/copper (biomass burning), F2 OC+EC (carbonaceous/traffic), F3 zinc (industrial),
    # F4 nitrate+ammonium, F5 Fe/Ca/Ti/Si (crustal dust), F6 sulfate+ammonium
    labels = {f: v["label"] for f, v in record["labels"].items()}
    assert labels == {
        "F1": "biomass",
        "F2": "traffic",
        "F3": "industry",
        "F4": "nitrate",
        "F5": "dust",
        "F6": "sulfate",
    }
    assert record["labels"]["F6"]["label_zh"] == "二次硫酸盐"
    assert record["labels"]["F6"]["markers"][0] == {"species": "SO4", "fingerprint": pytest.approx(0.706, abs=1e-3)}


def test_q_expected_and_the_residual_check(record: dict) -> None:
    strong = sum(1 for s in record["species"] if s["category"] == "strong")
    assert strong == 12
    assert record["q_expected"] == 630 * 12 - 6 * (630 + 12)
    assert record["q_ratio"] == pytest.approx(11170.49 / 3708, abs=1e-3)
    residuals = {r["species"]: r for r in record["residuals"]}
    assert set(residuals) == set(esat.frame_of(record["profiles"]).columns)
    assert all(0.5 < r["within"] <= 1.0 for r in residuals.values())


def test_groups_by_season_and_no_heavy_day_in_baltimore(record: dict) -> None:
    groups = {r["group"]: r["samples"] for r in record["mass"]}
    assert groups["all"] == 630
    assert groups["heating"] + groups["non_heating"] < 630  # April and October samples are in neither
    assert "heavy" not in groups  # no Baltimore sample above 150 µg/m³
    assert record["heavy_basis"].startswith("sample PM2.5 > 150")


def test_season_and_heavy_masks() -> None:
    samples = ["1/15/2020", "4/10/2020", "7/1/2020", "10/31/2020", "12/1/2020"]
    g = ap.season_groups(samples)
    assert g["heating"].tolist() == [True, False, False, False, True]
    assert g["non_heating"].tolist() == [False, False, True, False, False]
    assert ap.heavy_mask(samples, [160, 20, 10, 151, 149]).tolist() == [True, False, False, True, False]
    from datetime import date

    assert ap.heavy_mask(samples, [0] * 5, {date(2020, 4, 10)}).tolist() == [False, True, False, False, False]


def test_bootstrap_check_flags_unstable_factors() -> None:
    rows = ap.bootstrap_check([20, 15, 16], 20)
    assert [r["ok"] for r in rows] == [True, False, True]
    assert rows[1] == {"factor": "F2", "mapped": 15, "share": 0.75, "ok": False}


def test_proposed_shares_group_the_labels_into_source_categories(record: dict) -> None:
    labels = {f: v["label"] for f, v in record["labels"].items()}
    rows = ap.proposed_shares(record["mass"], labels)
    all_rows = {r["source"]: r for r in rows if r["season"] == "all"}
    # sulfate F6 + nitrate F4 → secondary (5.69 + 1.99) / 14.07
    assert all_rows["secondary"]["share"] == pytest.approx((5.69 + 1.99) / 14.07, abs=1e-3)
    assert sorted(all_rows["secondary"]["factors"]) == ["F4", "F6"]
    for season in {r["season"] for r in rows}:
        assert sum(r["share"] for r in rows if r["season"] == season) <= 1.0
    with pytest.raises(ApportionmentError, match="factors without a label: F6"):
        ap.proposed_shares(record["mass"], {k: v for k, v in labels.items() if k != "F6"})
    with pytest.raises(ApportionmentError, match=r"no factor F7 in the run \(factors F1, F2, F3, F4, F5, F6\)"):
        ap.proposed_shares(record["mass"], {**labels, "F7": "dust"})
    with pytest.raises(ApportionmentError, match="label 'fireworks' unknown"):
        ap.proposed_shares(record["mass"], {**labels, "F1": "fireworks"})
    # a source category itself is accepted as a label
    assert {r["source"] for r in ap.proposed_shares(record["mass"], {**labels, "F1": "other"})} >= {"other"}
