from __future__ import annotations

import pytest

from bogda.enforcement.rules import DEFAULT_PARAMS, RULES, ParamError, resolve_params


def test_every_rule_param_exists():
    for rule in RULES.values():
        for key in rule.params:
            assert key in DEFAULT_PARAMS, (rule.rule_id, key)
        assert rule.severity in ("S1", "S2", "S3")
        assert rule.name_zh


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"flat.min_hour": 6}, "flat.min_hour: unknown parameter"),
        ({"flat.min_hours": "six"}, "flat.min_hours: expected a number"),
        ({"flat.min_hours": 6.5}, "flat.min_hours: expected an integer"),
        ({"exceed.strict": 1}, "exceed.strict: expected true/false"),
        ({"o2.guard_pct": -1}, "o2.guard_pct: must not be negative"),
    ],
)
def test_invalid_parameter_file_is_refused_naming_the_key(overrides, message):
    with pytest.raises(ParamError, match=message):
        resolve_params(overrides)


def test_version_and_hash_follow_values():
    a, b = resolve_params(), resolve_params({"flat.min_hours": 8})
    assert a.sha256 != b.sha256 and len(a.sha256) == 64
    assert resolve_params().sha256 == a.sha256
    assert b["flat.min_hours"] == 8 and a["flat.min_hours"] == 6
