"""Column sensitivity detection: precision/recall over a labelled table of positives
and look-alikes, each validator's edge cases, and bad or hostile samples."""
import datetime as dt
import random
import uuid

from core.governance.detect import (Finding, birth_date_ok, credit_card_ok, email_ok,
                                    iban_ok, icd10_ok, ip_ok, luhn_ok, phone_ok, scan,
                                    ssn_ok)

R = random.Random(19)


def _luhn_complete(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError


def _card(prefix: str, n: int) -> str:
    body = prefix + "".join(R.choice("0123456789") for _ in range(n - len(prefix) - 1))
    return _luhn_complete(body)


def _iban(cc: str, bban: str) -> str:
    num = int("".join(str(int(c, 36)) for c in bban + cc + "00"))
    return f"{cc}{98 - num % 97:02d}{bban}"


def _nanp() -> str:
    return f"{R.randint(2, 9)}{R.randint(0, 99):02d}{R.randint(2, 9)}{R.randint(0, 99):02d}{R.randint(0, 9999):04d}"


def _ssn() -> str:
    area = R.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}"


def _dob() -> dt.date:
    return dt.date(1940, 1, 1) + dt.timedelta(days=R.randint(0, 25000))


def _fmt_phone(d: str) -> str:
    a, b, c = d[:3], d[3:6], d[6:]
    return R.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}",
                     f"1-{a}-{b}-{c}", f"+1{d}"])


def _dirty(values: list, k: int = 3) -> list:
    """A few nulls, blanks and junk, as real columns have."""
    return values + [None, "", "n/a", "unknown"][:k + 1]


N = 200
IBANS = [("DE", 18), ("GB", 18), ("FR", 23), ("NL", 14), ("ES", 20), ("IT", 23)]


def _bban(cc, n):
    if cc == "GB":
        return "NWBK" + "".join(R.choice("0123456789") for _ in range(n - 4))
    if cc == "NL":
        return "ABNA" + "".join(R.choice("0123456789") for _ in range(n - 4))
    if cc == "IT":
        return "X" + "".join(R.choice("0123456789") for _ in range(n - 1))
    return "".join(R.choice("0123456789") for _ in range(n))


def _spaced(s: str) -> str:
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4)) if R.random() < 0.5 else s


POSITIVES = {  # column -> (values, expected kind)
    "email": (_dirty([R.choice(["ann.lee@example.com", "bo+news@mail.example.org",
                                "c_d@sub.example.co.uk", "O'Brien@example.ie"]) for _ in range(N)]), "email"),
    "contact": ([f"user{i}@corp{i % 7}.example.net" for i in range(N)] + ["-"], "email"),
    "home_phone": (_dirty([_fmt_phone(_nanp()) for _ in range(N)]), "phone"),
    "intl": ([R.choice(["+44 20 7946 0958", "+49 30 1234567", "+33 1 23 45 67 89",
                        "0044 20 7946 0958", "+81 3-1234-5678", "020 7946 0958 ext 12"])
              for _ in range(N)], "phone"),
    "phone_number": ([int(_nanp()) for _ in range(N)] + [None], "phone"),
    "customer_ssn": (_dirty([_ssn() for _ in range(N)]), "us_ssn"),
    "ssn": ([_ssn().replace("-", "") for _ in range(N)] + ["000000000"] * 40, "us_ssn"),
    "card_number": (_dirty([_spaced(_card(R.choice(["4", "51", "55", "2221"]), 16))
                            for _ in range(N)]), "credit_card"),
    "payment": ([R.choice([_card("34", 15), _card("6011", 16), _card("4", 16)])
                 for _ in range(N)], "credit_card"),
    "account": (_dirty([_spaced(_iban(cc, _bban(cc, n))) for cc, n in
                        (R.choice(IBANS) for _ in range(N))]), "iban"),
    "client_ip": (_dirty([f"{R.randint(1, 223)}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"
                          for _ in range(N)]), "ip_address"),
    "peer": ([R.choice(["2001:db8::1", "fe80::1ff:fe23:4567:890a", "192.0.2.7", "::1",
                        "2001:0db8:85a3:0000:0000:8a2e:0370:7334"]) for _ in range(N)], "ip_address"),
    "date_of_birth": (_dirty([_dob().isoformat() for _ in range(N)]), "date_of_birth"),
    "birthdate": ([_dob() for _ in range(N)] + [None], "date_of_birth"),
    "dob": ([_dob().strftime("%m/%d/%Y") for _ in range(N)], "date_of_birth"),
    "diagnosis": (_dirty([R.choice(["E11.9", "I10", "J45.909", "M54.5", "F32A", "S72.001A", "Z00.00"])
                          for _ in range(N)]), "diagnosis_code"),
}


def _bad_iban(good: str) -> str:
    """The check digits off by one: the mod-97 residue is then never 1."""
    return f"{good[:2]}{(int(good[2:4]) + 1) % 100:02d}{good[4:]}"


def _isbn10() -> str:
    """0-306-40615-2: group 0 (English), a valid check character (0-9 or X)."""
    body = "0" + "".join(R.choice("0123456789") for _ in range(8))
    check = (11 - sum((10 - i) * int(c) for i, c in enumerate(body)) % 11) % 11
    return f"{body[0]}-{body[1:4]}-{body[4:]}-{'X' if check == 10 else check}"


def _not_luhn(n: int) -> str:
    s = _card("4", n)
    return s[:-1] + str((int(s[-1]) + 1) % 10)


LOOKALIKES = {
    "order_number": [f"ORD-2024-{i:06d}" for i in range(N)],
    "order_id": [2125550100 + i for i in range(N)],          # phone-shaped sequential ids
    "customer_ref": [f"212-555-{100 + i:04d}" for i in range(N)],
    "invoice_id": [f"INV-{10023 + i}" for i in range(N)],
    "zip": [f"{R.randint(10000, 99999)}-{R.randint(0, 9999):04d}" for _ in range(N)],
    "created_at": [f"2024-0{R.randint(1, 9)}-1{R.randint(0, 9)} 10:{R.randint(10, 59)}:12" for _ in range(N)],
    "created_compact": [f"2024{R.randint(1, 12):02d}{R.randint(10, 28)}{R.randint(100000, 235959)}" for _ in range(N)],
    "epoch": [1700000000 + 37 * i for i in range(N)],
    "epoch_ms": [1700000000000 + 37001 * i for i in range(N)],
    "event_id": [str(uuid.UUID(int=R.getrandbits(128))) for _ in range(N)],
    "app_version": [f"{R.randint(1, 12)}.{R.randint(0, 9)}.{R.randint(0, 9)}.{R.randint(0, 99)}" for _ in range(N)],
    "tracking": [_not_luhn(16) for _ in range(N)],
    "legacy_code": [R.choice(["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567",
                              "123-45-0000"]) for _ in range(N)],
    "sku": [R.choice(["SKU-4411-XL", "AB-1234-567", "E11-9", "A12"]) for _ in range(N)],
    "product_code": [R.choice(["E11.9", "I10", "J45"]) for _ in range(N)],  # ICD shape, no hint
    "bank_ref": [_bad_iban(_iban("DE", _bban("DE", 18))) for _ in range(N)],
    "birth_place": [R.choice(["Lyon", "Oslo", "Austin"]) for _ in range(N)],
    "hire_date": [_dob().isoformat() for _ in range(N)],
    "condition": [R.choice(["new", "used", "refurbished"]) for _ in range(N)],
    "price": [R.random() * 1000 for _ in range(N)],
    "handle": [f"@user{i}" for i in range(N)],
    "sha": [f"{R.getrandbits(160):040x}" for _ in range(N)],
    # real-world look-alikes found by hand: an ISBN-10 of group 0 is a 0-trunk phone's shape,
    # a thousands-grouped amount a NANP one; order and part numbers are named as such
    "book": [_isbn10() for _ in range(N)],
    "amount_text": [f"{R.randint(2, 9)} {R.randint(100, 999)} {R.randint(100, 999)} {R.randint(100, 999)}"
                    for _ in range(N)],
    "order_ref": [f"{R.randint(200, 999)}-{R.randint(200, 999)}-{R.randint(1000, 9999)}" for _ in range(N)],
    "part_no": [f"0{R.randint(10, 99)} {R.randint(1000, 9999)} {R.randint(1000, 9999)}" for _ in range(N)],
    "tracking_number": [_card("4", 16) for _ in range(N)],      # Luhn-valid, issuer-shaped
}


def test_precision_and_recall_on_labelled_table():
    cols = {k: v for k, (v, _) in POSITIVES.items()} | LOOKALIKES
    found = scan(cols, {"birthdate": "DATE"})
    tp = sum(1 for k, (_, kind) in POSITIVES.items() if found[k] and found[k].kind == kind)
    flagged = [k for k, f in found.items() if f]
    precision, recall = tp / len(flagged), tp / len(POSITIVES)
    wrong = {k: found[k] for k in flagged if k in LOOKALIKES}
    missed = {k: found[k] for k, (_, kind) in POSITIVES.items() if not found[k] or found[k].kind != kind}
    assert (precision, recall) == (1.0, 1.0), (wrong, missed)
    assert len(POSITIVES) >= 12 and len(LOOKALIKES) >= 12


def test_finding_carries_evidence():
    f = scan({"email": ["a@example.com"] * 9 + ["nope", None]})["email"]
    assert isinstance(f, Finding)
    assert f.to_dict() == {"tag": "pii", "kind": "email", "share": 0.9, "sampled": 10, "by_name": True}
    assert scan({"iban": ["DE89 3704 0044 0532 0130 00"]})["iban"].tag == "financial"
    assert scan({"icd": ["E11.9"]})["icd"].tag == "health"


def test_name_hint_lowers_threshold_but_never_tags_without_matches():
    half = ["a@example.com"] * 6 + ["x"] * 4
    assert scan({"notes": half})["notes"] is None
    assert scan({"email": half})["email"].share == 0.6
    assert scan({"email": ["n/a"] * 50, "ssn": ["x"] * 9})["email"] is None
    assert scan({"ssn": ["x"] * 9})["ssn"] is None


def test_luhn():
    assert luhn_ok("4111111111111111") and luhn_ok("79927398713") and luhn_ok("0")
    assert not luhn_ok("4111111111111112") and not luhn_ok("") and not luhn_ok("4111-1111")
    assert not luhn_ok("٤١١١")  # non-ASCII digits


def test_credit_card():
    assert credit_card_ok("4111 1111 1111 1111") and credit_card_ok("378282246310005")
    assert credit_card_ok("5555-5555-5555-4444") and credit_card_ok("6011111111111117")
    assert not credit_card_ok("1234567812345670")       # Luhn-valid, no issuer
    assert not credit_card_ok("4111111111111112")       # Luhn fails
    assert not credit_card_ok("411111111111")           # too short
    assert not credit_card_ok("3782822463100050")       # Amex prefix, wrong length


def test_iban_mod97_and_lengths():
    assert iban_ok("DE89370400440532013000") and iban_ok("GB82 WEST 1234 5698 7654 32")
    assert iban_ok("gb82west12345698765432")
    assert not iban_ok("DE89370400440532013001")        # mod-97 fails
    assert not iban_ok("DE8937040044053201300")         # wrong length for DE
    assert not iban_ok("XX89370400440532013000")        # unknown country
    assert not iban_ok("")


def test_ssn_rules():
    assert ssn_ok("123-45-6789") and ssn_ok("899-99-9999") and ssn_ok("001-01-0001")
    for bad in ("000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000",
                "123-456-789", "123-45 6789", "60601-1234"):
        assert not ssn_ok(bad), bad
    assert not ssn_ok("123456789") and ssn_ok("123456789", bare=True)


def test_phone():
    for ok in ("+1 212 555 0143", "(212) 555-0143", "212.555.0143", "+44 20 7946 0958",
               "020 7946 0958", "1-212-555-0143", "212-555-0143 x12"):
        assert phone_ok(ok), ok
    for bad in ("2125550143", "112-555-0143", "212-155-0143", "60601-1234", "2024-01-02",
                "+0 123 456 7890", "12345", "2024-01-02 10:11:12", "20240102 101112",
                "0-306-40615-2", "2 345 678 901", "1 234 567 890"):
        assert not phone_ok(bad), bad
    assert phone_ok("2125550143", bare=True) and not phone_ok("1700000000", bare=True)
    assert phone_ok("+34 912 345 678") and phone_ok("01 23 45 67 89")  # grouped by threes, or by twos


def test_a_things_number_is_not_a_persons_unless_the_name_says_so():
    nanp = [f"{R.randint(200, 999)}-{R.randint(200, 999)}-{R.randint(1000, 9999)}" for _ in range(50)]
    found = scan({"order_ref": nanp, "contact": nanp, "order_phone": nanp})
    assert found["order_ref"] is None
    assert found["contact"].kind == "phone" and found["order_phone"].kind == "phone"


def test_ip_and_email_and_icd():
    assert ip_ok("10.0.0.1") and ip_ok("::1") and ip_ok("2001:db8::1")
    assert not ip_ok("256.1.1.1") and not ip_ok("10.2.3") and not ip_ok("10:11:12")
    assert not ip_ok("010.1.1.1") and not ip_ok("3232235777")
    assert email_ok("a.b+c@example.co") and not email_ok("a..b@example.com")
    assert not email_ok("a@b") and not email_ok("@example.com") and not email_ok("a@example.com\n")
    assert icd10_ok("E11.9") and icd10_ok("i10") and not icd10_ok("E1") and not icd10_ok("11.9")


def test_version_strings_are_not_ip_addresses():
    versions = ["10.2.3.4", "1.0.0.12", "4.4.0.1"] * 10
    assert scan({"app_version": versions, "build": versions})["build"] is None
    assert scan({"host": versions})["host"].kind == "ip_address"  # decided: name decides


def test_birth_dates_need_a_name_and_plausible_values():
    today = dt.date(2026, 12, 2)
    assert birth_date_ok("1985-03-02", today) and birth_date_ok(dt.datetime(1990, 1, 1), today)
    assert birth_date_ok("02.03.1985", today) and birth_date_ok("1985-03-02T00:00:00", today)
    assert not birth_date_ok("2030-01-01", today) and not birth_date_ok("1850-01-01", today)
    assert not birth_date_ok("1985-02-30", today) and not birth_date_ok(1985, today)
    future = [dt.date(2090, 1, 1)] * 10
    assert scan({"dob": future, "joined": [dt.date(1980, 1, 1)] * 10}) == {"dob": None, "joined": None}
    assert scan({"dob": [dt.datetime(1980, 5, 1, 0, 0)] * 10}, {"dob": "TIMESTAMP"})["dob"].kind == "date_of_birth"


class _Unprintable:
    def __str__(self):
        raise RuntimeError("no")


def test_empty_null_and_mixed_columns():
    assert scan({}) == {}
    assert scan({"email": [], "ssn": [None] * 100, "phone": ["", "  "], "x": None}) == \
        {"email": None, "ssn": None, "phone": None, "x": None}
    mixed = [1, 2.5, b"\xff\xfe", None, True, float("nan"), dt.date(2020, 1, 1), 10 ** 400,
             {"a": 1}, ["x"], "a@example.com", _Unprintable()]
    assert scan({"mixed": mixed, "email": mixed})["mixed"] is None
    assert scan({"emails": [b"a@example.com", b"b@example.org"]})["emails"].kind == "email"
    assert scan({"flag": [True] * 5}, {"flag": "BOOLEAN"})["flag"] is None
    assert scan({"email": 42, "ssn": iter(["123-45-6789"] * 5)})["ssn"].kind == "us_ssn"


def test_hostile_values_neither_raise_nor_match():
    long = "a" * 1_000_000 + "@example.com"
    ctrl = "a@example.com\x00\n\r\x1b[2J"
    found = scan({"email": [long, ctrl, "\u202e" * 5000] * 700,
                  "phone": ["+1 212 555 0143\n"] * 3 + ["(" * 100000] * 3,
                  "ip": ["1.2.3.4\x00"] * 5})
    assert found["email"] is None and found["ip"] is None
    assert found["phone"].share == 0.5  # stripped trailing newline still a phone; the rest junk


def test_date_forms():
    today = dt.date(2026, 12, 2)
    for ok in ("03/02/1985", "25/12/1985", "25.12.1985", "1985/12/25", "Mar 2, 1985",
               "2 March 1985", "03/02/1985 00:00"):
        assert birth_date_ok(ok, today), ok
    for bad in ("13/13/1985", "1985", "abc", "25.12.85", "1985-12-25-01"):
        assert not birth_date_ok(bad, today), bad


def test_the_whole_sample_is_checked_not_its_head():
    col = [None] * 1500 + ["a@example.com"] * 500
    f = scan({"contact": col})["contact"]
    assert f.kind == "email" and f.sampled > 50
    head = ["a@example.com"] * 400 + ["ORD-1"] * 1600   # emails only at the head
    assert scan({"contact": head})["contact"] is None
