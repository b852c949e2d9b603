from __future__ import annotations

import pytest

from bogda.registry import people
from bogda.registry.devices import add_device, get_device, set_device_password, verify_password
from bogda.registry.sites import SiteInput, add_enterprise, add_site, credit_code_problem, with_check_digit
from bogda.store import Store


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (with_check_digit("91652300MA78ABCD1"), None),
        ("91652300MA78ABCD1", "must be 18 characters"),
        ("91652300MA78ABCDIX", "outside GB 32100"),
        (with_check_digit("91652300MA78ABCD1")[:-1] + "0", "check character"),
    ],
)
def test_credit_code(code: str, problem: str | None) -> None:
    got = credit_code_problem(code)
    assert (got is None) if problem is None else (problem in got)


def test_real_credit_code_check_digit() -> None:
    # the published code of the Ministry of Ecology and Environment's own unit list example (GB 32100 annex)
    assert credit_code_problem("91350100M000100Y43") is None


def test_users_roles_scopes_and_passwords(store: Store) -> None:
    with store.begin() as conn:
        ent = add_enterprise(
            conn,
            SiteInput("enterprise", "E1", "企业"),
            credit_code=with_check_digit("91652300MA78ABCD1"),
            sector="cement",
        )
        with pytest.raises(ValueError, match="at least 8"):
            people.add_user(conn, login="al", password="x", roles=["viewer"])
        with pytest.raises(ValueError, match="unknown roles"):
            people.add_user(conn, login="bob", password="good-pass-1", roles=["king"])
        with pytest.raises(ValueError, match="enterprise scope"):
            people.add_user(conn, login="bob", password="good-pass-1", roles=["enterprise_user"])
        uid = people.add_user(
            conn, login="bob", password="good-pass-1", roles=["enterprise_user"], scope_enterprise_id=ent
        )
        with pytest.raises(ValueError, match="already exists"):
            people.add_user(conn, login="bob", password="good-pass-1", roles=["viewer"])
    with store.begin() as conn:
        assert people.authenticate(conn, "bob", "wrong-pass-1") is None
        assert people.authenticate(conn, "nobody", "good-pass-1") is None
        u = people.authenticate(conn, "bob", "good-pass-1")
        assert u is not None and u.roles == ("enterprise_user",) and u.scope_enterprise_id == ent
        with pytest.raises(ValueError, match="current password is wrong"):
            people.change_password(conn, uid, "nope", "new-pass-22")
        people.change_password(conn, uid, "good-pass-1", "new-pass-22")
        assert people.authenticate(conn, "bob", "new-pass-22") is not None


def test_devices_store_only_argon2_hash(store: Store) -> None:
    with store.begin() as conn:
        st = add_site(conn, SiteInput("air_station", "S1", "站", 87.3, 44.0))
        add_device(conn, mn="88888880000001", password="123456", parent_id=st)
        dev = get_device(conn, "88888880000001")
        assert dev is not None and dev.parent_id == st
        assert dev.pw_hash.startswith("$argon2id$") and "123456" not in dev.pw_hash
        assert verify_password(dev.pw_hash, "123456") and not verify_password(dev.pw_hash, "654321")
        with pytest.raises(ValueError, match="already registered"):
            add_device(conn, mn="88888880000001", password="x", parent_id=st)
        with pytest.raises(ValueError, match="MN must be"):
            add_device(conn, mn="bad mn", password="x", parent_id=st)
        set_device_password(conn, "88888880000001", "abcdef")
        assert verify_password(get_device(conn, "88888880000001").pw_hash, "abcdef")


def test_generated_passwords_always_pass_the_policy() -> None:
    assert all(people.password_problem(people.generate_password()) is None for _ in range(2000))
