"""The one password policy that signup, reset and change share: every refusal says why."""

from __future__ import annotations

import pytest

from core import accounts, errors, policy, profile, reset, signup
from core.context import Context
from core.policy import PASSWORD_MAX, password_problems
from tests.core.test_reset import uid_from_outbox

GOOD = "vorpal-blade-snicker"


def problems(password: str, **kwargs: object) -> list[str]:
    return password_problems(password, min_length=8, **kwargs)  # type: ignore[arg-type]


def test_a_good_password_has_no_problems() -> None:
    assert problems(GOOD, username="alice", email="alice@example.com") == []


def test_length_bounds_are_inclusive() -> None:
    assert problems("q7#xk2!z") == []
    assert problems("q7#xk2!") == [
        "This password is too short. It must contain at least 8 characters."
    ]
    at_max = ("q7#xk2!z" * 128)[:PASSWORD_MAX]
    assert len(at_max) == 1024 and problems(at_max) == []


def test_1025_characters_is_too_long_and_says_so() -> None:
    too_long = "q7#xk2!z" * 128 + "w"
    assert len(too_long) == 1025
    assert problems(too_long) == ["This password is too long: at most 1024 characters."]


def test_min_length_comes_from_the_setting() -> None:
    reasons = password_problems("q7#xk2!zw9", min_length=12)
    assert reasons == ["This password is too short. It must contain at least 12 characters."]


def test_leading_and_trailing_spaces_count_and_are_kept() -> None:
    # Seven visible characters are too short; with the spaces they are nine, which is enough:
    # the policy never trims, so the spaces are part of the password.
    assert problems("q7#xk2!") != []
    assert problems(" q7#xk2! ") == []


def test_common_password_in_mixed_case_is_refused() -> None:
    assert problems("PaSsWoRd") == ["This password is too common."]
    assert problems("Sunshine") == ["This password is too common."]
    assert problems("  password  ") == ["This password is too common."]


def test_entirely_numeric_is_refused() -> None:
    assert "This password is entirely numeric." in problems("90817263545")


def test_equal_to_or_containing_the_username_is_refused() -> None:
    assert problems("alicealice", username="alice") == [
        "The password is too similar to the username."
    ]
    assert problems("Lewis.Carroll", username="lewis.carroll") == [
        "The password is too similar to the username."
    ]


def test_containing_the_email_local_part_is_refused() -> None:
    reasons = problems("my-dodo.bird-pw", email="dodo.bird@example.com")
    assert reasons == ["The password is too similar to the email address."]
    # The domain is not the secret-ish part; only the local part is compared.
    assert problems("example-of-a-pw", email="dodo@example.com") == []


def test_every_reason_is_given_at_once() -> None:
    assert problems("12345") == [
        "This password is too short. It must contain at least 8 characters.",
        "This password is too common.",
        "This password is entirely numeric.",
    ]


@pytest.mark.parametrize("weak", ["short", "password1", "alice-rules-ok"])
def test_signup_reset_and_change_refuse_with_the_same_reasons(ctx: Context, weak: str) -> None:
    user = accounts.create_user(ctx, username="alice", email="alice@example.com", password=GOOD)
    with pytest.raises(errors.InvalidInput) as at_signup:
        signup.validate(
            ctx,
            signup.SignupRequest(
                first_name="A",
                last_name="L",
                username="alice",
                email="alice@example.com",
                password=weak,
            ),
        )
    with pytest.raises(errors.InvalidInput) as at_change:
        reset.change_password(ctx, user.id, 0, GOOD, weak)
    reset.request(ctx, "alice@example.com")
    with pytest.raises(errors.InvalidInput) as at_reset:
        reset.confirm(ctx, uid_from_outbox(), weak, weak)
    assert at_signup.value.errors is not None
    expected = at_signup.value.errors["password"]
    assert expected
    assert at_change.value.errors == {"new_password": expected}
    assert at_reset.value.errors == {"new_password": expected}


def test_a_mail_domain_is_a_host_name() -> None:
    assert policy.email_problems("a@bücher.de") == []
    for address in ("rx~y@es5s.1e100.test*", "x@-a.com", "x@a_b.com", "x@[1.2.3.4]", "x@a..b"):
        assert policy.email_problems(address) == ["Enter a valid email address."], address


# Written out in full (NFKC, then casefolded, as uniqueness compares them): U+FDFA is 18
# letters and ß is ss. The keys live in columns as long as the fields, and PostgreSQL
# refused a longer one with DataError: a 500 for a 9-character username.
LONG_ONCE_SPELT_OUT = ["\ufdfa" * 9, "\u00df" * 76, "a" * 149 + "\u00df"]
SPELT_OUT = policy._SPELT_OUT.format(policy.USERNAME_MAX)


@pytest.mark.parametrize("username", LONG_ONCE_SPELT_OUT)
def test_a_username_too_long_once_spelt_out_is_refused_everywhere(
    ctx: Context, username: str
) -> None:
    request = signup.SignupRequest(
        first_name="A", last_name="L", username=username, email="a@example.com", password=GOOD
    )
    with pytest.raises(errors.InvalidInput) as at_signup:
        signup.start(ctx, request)
    assert at_signup.value.errors == {"username": [SPELT_OUT]}
    with pytest.raises(errors.InvalidInput):
        accounts.create_user(ctx, username=username, email="b@example.com", password=GOOD)
    user = accounts.create_user(ctx, username="bob", email="bob@example.com", password=GOOD)
    with pytest.raises(errors.InvalidInput) as at_edit:
        profile.update(ctx, user.id, profile.ProfileChanges(username=username))
    assert at_edit.value.errors == {"username": [SPELT_OUT]}


def test_a_username_that_fits_once_spelt_out_is_taken_whole(ctx: Context) -> None:
    username = "\u00df" * 75  # 150 once spelt out: the column's length exactly
    created = accounts.create_user(ctx, username=username, email="a@example.com", password=GOOD)
    assert created.username == username
    with pytest.raises(errors.UsernameTaken):  # and "ss" * 75 is the same name
        accounts.create_user(ctx, username="ss" * 75, email="b@example.com", password=GOOD)


def test_an_email_too_long_once_spelt_out_is_refused(ctx: Context) -> None:
    email = "a@" + ("\ufb00" * 30 + ".") * 5 + "com"  # 161 typed, 311 spelt out
    assert len(email) <= policy.EMAIL_MAX < len(policy.casefold_key(email))
    expected = [policy._SPELT_OUT.format(policy.EMAIL_MAX)]
    assert policy.email_problems(email) == expected
    with pytest.raises(errors.InvalidInput) as refused:
        accounts.create_user(ctx, username="carol", email=email, password=GOOD)
    assert refused.value.errors == {"email": expected}
