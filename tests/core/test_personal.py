from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pingan.core import personal


def test_known_valid_id_number_passes() -> None:
    # The example from GB 11643-1999 Appendix A: 11010519491231002X.
    assert personal.id_number_error("11010519491231002X") is None
    assert personal.id_number_error("11010519491231002x") is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491331002X", "birth date"),
        ("1101051949123100", "17 digits"),
        ("11010519491231002Y", "17 digits"),
    ],
)
def test_bad_id_numbers_say_why(value: str, reason: str) -> None:
    assert reason in (personal.id_number_error(value) or "")


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_digit_makes_any_digits_valid_when_date_is_real(stem: str) -> None:
    stem = stem[:6] + "19900615" + stem[14:]
    assert personal.id_number_error(stem + personal.id_check_digit(stem)) is None


def test_masks_keep_only_what_identifies_nobody() -> None:
    assert personal.mask_id_number("330503199001011234") == "330503**********34"
    assert personal.mask_phone("+8613812345678") == "138****5678"
    assert personal.mask_name("王小明") == "王**"
    assert personal.mask_name("王明") == "王*"


def test_phone_numbers_are_normalised_or_refused() -> None:
    assert personal.normalize_phone("138 1234 5678") == "+8613812345678"
    assert personal.is_mobile("+8613812345678")
    with pytest.raises(ValueError):
        personal.normalize_phone("12345")
