"""Money: exact decimals and currency codes."""

from __future__ import annotations

import re
from decimal import Decimal

# ISO 4217 active codes (fiat, precious metals and funds), as published by the maintenance agency.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK
    MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG
    XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905 - the code list reads as published
)

_CRYPTO_CODE = re.compile(r"[A-Za-z0-9]{2,10}")

# Amounts beyond these bounds are not money: reject rather than store them.
MAX_ABS_AMOUNT = Decimal("1e18")
MAX_SCALE = 18


def is_currency(code: str, *, is_crypto: bool) -> bool:
    if is_crypto:
        return bool(_CRYPTO_CODE.fullmatch(code))
    return code in ISO_4217


def amount_in_range(value: Decimal) -> bool:
    # Compare exponents before any arithmetic: 1e1000000 would overflow the decimal context.
    if not value.is_finite() or value.adjusted() >= MAX_ABS_AMOUNT.adjusted():
        return False
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and -exponent <= MAX_SCALE


def decimal_text(value: Decimal | None) -> str | None:
    """The exact text of an amount, for JSON answers (never through float). ``str`` writes
    the same digits in half the time, unless it picks scientific notation (an exponent)."""
    if value is None:
        return None
    text = str(value)
    return text if "E" not in text else format(value, "f")
