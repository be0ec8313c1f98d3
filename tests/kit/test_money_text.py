"""An amount's text is exact and never in scientific notation, whatever its exponent."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from croupier.kit.money import decimal_text


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_the_text_is_the_fixed_point_form(value: Decimal) -> None:
    assert decimal_text(value) == format(value, "f")


def test_exponents_are_written_out() -> None:
    assert decimal_text(Decimal("1E+3")) == "1000"
    assert decimal_text(Decimal("1E-7")) == "0.0000001"
    assert decimal_text(Decimal("-0.000001")) == "-0.000001"
    assert decimal_text(Decimal("12.3400")) == "12.3400"
    assert decimal_text(None) is None
