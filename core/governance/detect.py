"""Column sensitivity detection: patterns plus validators over a bounded sample.

`scan()` tags each column `pii`, `financial`, `health` or None with the evidence (which
detector, the share of checked non-null values that matched, how many were checked).
A shape alone never tags: every detector validates (Luhn, mod-97, SSA rules, NANP,
`ipaddress`, calendar dates), so order numbers, zip+4, timestamps, UUIDs and version
strings stay untagged. A column is tagged when at least THRESHOLD (0.8) of its checked
non-null values match, or HINTED_THRESHOLD (0.5) when its name names the kind (`ssn`,
`email`, `card`...); a name alone never tags. Birth dates and ICD-10 codes need the name
(`dob`, `diagnosis`...) because their values alone are any date or any short code.
Pure stdlib, no I/O; a 50-column table of 2,000-value samples scans in about 35-50 ms.
"""
from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from dataclasses import asdict, dataclass

THRESHOLD = 0.8        # share of checked non-null values that must match to tag
HINTED_THRESHOLD = 0.5  # when the column name names the kind (dirty columns are common)
MAX_CHECK = 512        # values checked per column, spread evenly over the sample: keeps
                       # a 50-column scan in milliseconds while the share stays meaningful
PROBE = 48             # a detector must look plausible on this many first before the full pass
MAX_LEN = 254          # longest plausible value (an email's limit); longer never matches


@dataclass(frozen=True)
class Finding:
    tag: str          # pii | financial | health
    kind: str         # email, phone, us_ssn, credit_card, iban, ip_address, ...
    share: float      # matching / sampled, over non-null values
    sampled: int      # non-null values checked
    by_name: bool     # the column name hinted this kind (the lower threshold applied)

    def to_dict(self) -> dict:
        return asdict(self)


# ---- validators (public: unit-tested on their edge cases) ----

def luhn_ok(digits: str) -> bool:
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iin_ok(d: str) -> bool:
    """Known issuer prefixes and their lengths (Visa, Mastercard, Amex, Discover,
    Diners, JCB, UnionPay, Maestro): a Luhn-valid 16-digit id is not enough."""
    n, p2, p4 = len(d), int(d[:2]), int(d[:4])
    if d[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if p4 == 6011 or 644 <= int(d[:3]) <= 649 or p2 == 65 or p2 == 62:
        return 16 <= n <= 19
    if p2 in (36, 38, 39) or 300 <= int(d[:3]) <= 305:
        return 14 <= n <= 19
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if p2 == 50 or 56 <= p2 <= 69:
        return 12 <= n <= 19
    return False


_CARD = re.compile(r"\d{4}(?:[ -]?\d{2,7}){1,4}|\d{13,19}", re.ASCII)


def credit_card_ok(s: str) -> bool:
    if not _CARD.fullmatch(s):
        return False
    d = s.replace(" ", "").replace("-", "")
    return 13 <= len(d) <= 19 and _iin_ok(d) and luhn_ok(d)


_IBAN_LEN = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22,
    "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27,
    "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}
_LETTER_DIGITS = {ord(c): str(i + 10) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", re.ASCII)


def iban_ok(s: str) -> bool:
    s = s.replace(" ", "").upper()
    if _IBAN_LEN.get(s[:2]) != len(s) or not _IBAN.fullmatch(s):
        return False
    return int((s[4:] + s[:4]).translate(_LETTER_DIGITS)) % 97 == 1


_SSN = re.compile(r"(\d{3})([- ]?)(\d{2})\2(\d{4})", re.ASCII)


def ssn_ok(s: str, bare: bool = False) -> bool:
    """AAA-GG-SSSS under the SSA rules; the bare 9-digit form only when `bare`
    (a name hint), since 9-digit ids and zip+4 without a dash are everywhere."""
    m = _SSN.fullmatch(s)
    if not m or (not m.group(2) and not bare):
        return False
    area, group, serial = m.group(1), m.group(3), m.group(4)
    return (area not in ("000", "666") and area[0] != "9" and group != "00"
            and serial != "0000")


_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}", re.ASCII)


def email_ok(s: str) -> bool:
    return len(s) <= MAX_LEN and s.find("@") <= 64 and bool(_EMAIL.fullmatch(s))


_PHONE = re.compile(r"(\+|00)?[\d().\- /]{9,24}?(?:\s*(?:x|ext\.?)\s*\d{1,5})?", re.ASCII | re.I)
_NANP = re.compile(r"1?[2-9]\d{2}[2-9]\d{6}", re.ASCII)
_EXT = re.compile(r"\s*(?:x|ext\.?)\s*\d{1,5}$", re.ASCII | re.I)
_NON_DIGIT = re.compile(r"\D", re.ASCII)


def phone_ok(s: str, bare: bool = False) -> bool:
    """E.164 (+CC...), NANP (2-9 area and exchange) or a 0-trunk national number,
    10-15 digits. Bare digit strings only when `bare` (a name hint): otherwise
    they are order numbers, epochs and ids."""
    if len(s) > 40 or not _PHONE.fullmatch(s):
        return False
    core = _EXT.sub("", s)
    d = _NON_DIGIT.sub("", core)
    intl = core.startswith("+") or core.startswith("00")
    if intl:
        d = d[2:] if core.startswith("00") else d
        return 10 <= len(d) <= 15 and d[0] != "0" and (d[0] != "1" or bool(_NANP.fullmatch(d)))
    formatted = not core.isdigit()
    if not (formatted or bare):
        return False
    groups = _GROUPS.findall(core)
    if formatted and (len(groups[-1]) == 1 or _thousands(groups)):
        return False  # an ISBN-10 (0-306-40615-2) or an amount (2 345 678 901)
    if _NANP.fullmatch(d) and len(d) in (10, 11):
        return True
    # 0-trunk national numbers (UK 020 7946 0958, DE 030 1234567): need formatting
    return formatted and d[0] == "0" and d[1] != "0" and 10 <= len(d) <= 11


_GROUPS = re.compile(r"\d+", re.ASCII)


def _thousands(groups: list[str]) -> bool:
    """Digit groups of a number written with thousands separators: 1-3 digits (not a
    0 trunk prefix), then only groups of three."""
    return (len(groups) >= 3 and len(groups[0]) <= 3 and groups[0][0] != "0"
            and all(len(g) == 3 for g in groups[1:]))


def ip_ok(s: str) -> bool:
    if not (2 <= len(s) <= 45) or ("." not in s and ":" not in s):
        return False
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


_NUMERIC_DATE = re.compile(r"(\d{1,4})([-/.])(\d{1,2})\2(\d{1,4})", re.ASCII)
_WORD_DATE = re.compile(r"[A-Za-z]{3,9}\.? \d{1,2},? \d{4}|\d{1,2} [A-Za-z]{3,9}\.? \d{4}", re.ASCII)
_WORD_FORMATS = ("%b %d, %Y", "%d %b %Y", "%B %d, %Y", "%d %B %Y")


def _parse_date(text: str):
    """Y-M-D, M/D/Y (US first, then D/M/Y), D.M.Y and D-M-Y, or a month name; else None."""
    m = _NUMERIC_DATE.fullmatch(text)
    if m:
        a, sep, b, c = m.groups()
        if len(a) == 4:
            orders = [(int(a), int(b), int(c))]
        elif len(c) == 4:
            us = [(int(c), int(a), int(b))] if sep == "/" else []
            orders = us + [(int(c), int(b), int(a))]
        else:
            return None
        for y, mo, d in orders:
            try:
                return _dt.date(y, mo, d)
            except ValueError:
                continue
        return None
    if _WORD_DATE.fullmatch(text):
        for fmt in _WORD_FORMATS:
            try:
                return _dt.datetime.strptime(text.replace(".", ""), fmt).date()
            except ValueError:
                continue
    return None


def birth_date_ok(v, today: _dt.date | None = None) -> bool:
    """A real calendar date 0-120 years before today (a date, datetime or date-like text)."""
    today = today or _dt.date.today()
    if isinstance(v, _dt.datetime):
        v = v.date()
    if isinstance(v, str):
        # a timestamp's date part (1985-03-02T00:00:00, 03/02/1985 00:00)
        v = _parse_date(v) or (len(v) > 10 and v[10] in "T " and _parse_date(v[:10])) or None
    if not isinstance(v, _dt.date):
        return False
    return today.year - 120 <= v.year and v <= today


_ICD10 = re.compile(r"[A-Z]\d[0-9AB](?:\.?[0-9A-Z]{1,4})?", re.ASCII)


def icd10_ok(s: str) -> bool:
    return bool(_ICD10.fullmatch(s.upper()))


# ---- column names ----

_HINTS = {
    "email": {"email", "mail", "emailaddress"},
    "phone": {"phone", "tel", "telephone", "mobile", "cellphone", "fax", "msisdn", "phonenumber"},
    "us_ssn": {"ssn", "socialsecurity", "socialsecuritynumber"},
    "credit_card": {"card", "cc", "pan", "creditcard", "cardnumber", "ccnum"},
    "iban": {"iban", "bankaccount"},
    "ip_address": {"ip", "ipv4", "ipv6", "ipaddr", "ipaddress", "remoteaddr", "clientip"},
    "date_of_birth": {"birth", "dob", "born", "birthday", "bday", "birthdate",
                      "dateofbirth"},
    "diagnosis_code": {"diagnosis", "diag", "icd", "icd10", "condition", "dx"},
}
_VERSIONISH = {"version", "ver", "release", "build", "semver", "firmware", "revision", "rev"}
# names of a thing's number, not a person's: digit groups there are order or part numbers
# that happen to have a phone's, an SSN's or a card's shape (unless the name also says so)
_IDISH = {"order", "invoice", "sku", "isbn", "issn", "ean", "upc", "gtin", "serial", "tracking",
          "ticket", "part", "partno", "ref", "reference", "po", "batch", "lot", "model", "shipment",
          "parcel", "confirmation", "booking", "barcode"}
_ID_KINDS = ("phone", "us_ssn", "credit_card")


def _tokens(name: str) -> set[str]:
    """snake, kebab, camel and glued names: `clientIP`, `date_of_birth`, `ssn2`."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    parts = [p for p in re.split(r"[^A-Za-z]+", spaced.lower()) if p]
    return set(parts) | {"".join(parts)} | {a + b for a, b in zip(parts, parts[1:])}


def _hinted(name: str) -> set[str]:
    toks = _tokens(name)
    return {kind for kind, words in _HINTS.items() if toks & words}


# ---- detectors: (kind, tag, test(value, hinted), needs a name hint) ----

_DETECTORS = (
    ("credit_card", "financial", lambda s, h: credit_card_ok(s), False),
    ("iban", "financial", lambda s, h: iban_ok(s), False),
    ("us_ssn", "pii", lambda s, h: ssn_ok(s, bare=h), False),
    ("email", "pii", lambda s, h: email_ok(s), False),
    ("ip_address", "pii", lambda s, h: ip_ok(s), False),
    ("phone", "pii", lambda s, h: phone_ok(s, bare=h), False),
    ("date_of_birth", "pii", lambda v, h: birth_date_ok(v), True),
    ("diagnosis_code", "health", lambda s, h: icd10_ok(s), True),
)
_SKIP_TYPES = ("BOOL", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "BLOB", "UUID",
               "INTERVAL", "TIME", "LIST", "STRUCT", "MAP")
_DATE_TYPES = ("DATE", "TIMESTAMP")


def _normal(v):
    """A value as stripped text (dates kept as dates); None for null, blank or unusable."""
    if type(v) is str and len(v) <= MAX_LEN:  # the common case, kept cheap
        return v.strip() or None
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return None
        v = int(v) if v.is_integer() and abs(v) < 1e20 else repr(v)
    if isinstance(v, int) and v.bit_length() > 100:
        return "#"                     # str() of a huge int is slow or refused: no match
    if isinstance(v, (bytes, bytearray, memoryview)):
        v = bytes(v[:MAX_LEN + 1]).decode("utf-8", "replace")
    try:
        s = v if isinstance(v, str) else str(v)
    except Exception:  # an object whose __str__ fails is just not a match
        return "#"
    if len(s) > MAX_LEN + 64:          # hostile or prose: never a match, never slow
        return s[:MAX_LEN + 1]
    s = s.strip()
    return s or None


def _spread(values: list, n: int) -> list:
    if len(values) <= n:
        return values
    step = len(values) / n
    return [values[int(i * step)] for i in range(n)]


def _sequential(values: list) -> bool:
    """Dense ascending numbers (row ids that happen to look like phones)."""
    nums = sorted({int(d) for d in ("".join(c for c in str(v) if c.isdigit()) for v in values) if d})
    return len(nums) >= 10 and nums[-1] - nums[0] <= 4 * len(nums)


def _share(test, vals: list, hinted: bool, need: float) -> int:
    """Matches over vals, stopping once the threshold is out of reach."""
    allowed = len(vals) - int(need * len(vals) + 0.999999)
    hits = misses = 0
    for v in vals:
        try:
            ok = test(v, hinted)
        except (ValueError, TypeError, AttributeError, OverflowError):
            ok = False
        if ok:
            hits += 1
        else:
            misses += 1
            if misses > allowed:
                return -1
    return hits


def _column(name: str, values: list, dtype: str) -> Finding | None:
    dtype = (dtype or "").upper()
    if dtype.startswith(_SKIP_TYPES) and not dtype.startswith(_DATE_TYPES):
        return None
    # spread over the whole sample (not its head, which is often sorted); nulls are skipped
    vals = [x for x in map(_normal, _spread(list(values), MAX_CHECK)) if x is not None]
    if not vals:
        return None
    hints = _hinted(name)
    idish = bool(_tokens(name) & _IDISH)
    dated = dtype.startswith(_DATE_TYPES) or any(not isinstance(v, str) for v in vals[:PROBE])
    for kind, tag, test, needs_name in _DETECTORS:
        hinted = kind in hints
        if (needs_name and not hinted) or (dated and kind != "date_of_birth"):
            continue
        if kind == "ip_address" and _tokens(name) & _VERSIONISH:
            continue  # 10.2.3.4 in a version column is a version, not an address
        if idish and not hinted and kind in _ID_KINDS:
            continue  # 212-555-0143 as an order_ref is an order's number
        need = HINTED_THRESHOLD if hinted else THRESHOLD
        probe = vals[::max(1, len(vals) // PROBE)]
        if _share(test, probe, hinted, need) < 0:
            continue  # cheap rejection on a spread of a few values
        hits = _share(test, vals, hinted, need)
        if hits <= 0:
            continue
        if kind == "phone" and _sequential(vals):
            continue
        # detectors are near-exclusive and ordered most specific first: first tag wins
        return Finding(tag, kind, round(hits / len(vals), 4), len(vals), hinted)
    return None


def scan(columns: dict[str, list], types: dict[str, str] | None = None) -> dict[str, Finding | None]:
    """Tag each column (name -> a bounded sample of its values; DuckDB type names optional)."""
    types = types or {}
    out = {}
    for name, values in columns.items():
        try:
            out[name] = _column(str(name), values if values is not None else [], types.get(name, ""))
        except TypeError:
            out[name] = None  # an unsliceable or unhashable sample: nothing to say
    return out
