"""How erasure finds and masks a customer in stored values (chalicelib/domain/erasure.py): pure, no AWS."""

from __future__ import annotations

import json
from decimal import Decimal

from chalicelib.domain.erasure import Masker, subject_of

TOKEN = "masked:0123456789abcdef"


def masker() -> Masker:
    return Masker(
        subject_of(
            TOKEN,
            golden_ids=["cus_k0_abc123"],
            source_ids=["C-1001", "4711"],
            values=[("email", " Li@Acme.example "), ("phone", "+86 138-0013-8000"), ("name", "Acme  Trading")],
            match_keys=["tax_id:91310000MA1FL8XQ3K"],
        )
    )


def test_each_identifier_is_found_in_the_forms_stored_copies_spell_it():
    m = masker()
    assert m.text("owner LI@acme.EXAMPLE wrote") == f"owner {TOKEN} wrote"
    assert m.text("tel. 138 0013 8000, ext 12") == f"tel. {TOKEN}, ext 12"
    assert m.text("+86-13800138000") == TOKEN
    assert m.text("C-1001 13800138000 (138) 0013.8000") == f"{TOKEN} {TOKEN} ({TOKEN}"
    assert m.text("税号 9131 0000 ma1f-L8XQ3K") == f"税号 {TOKEN}"
    assert m.text("customer#cus_k0_abc123") == f"customer#{TOKEN}"
    assert m.text("demo_crm:customer:c-1001:2026-11-01T00:00:00+00:00") == f"demo_crm:customer:{TOKEN}:2026-11-01T00:00:00+00:00"
    assert m.text("acme trading") == TOKEN  # a name as a whole value


def test_what_only_resembles_an_identifier_is_left_alone():
    m = masker()
    for text in ("C-10010", "XC-1001", "47110", "47.11", "4711.5", "Acme Trading Ltd", "we met Acme Trading today", "138 0013 8001"):
        assert m.text(text) == text, text
    assert m.value({"qty": Decimal(4711), "price": Decimal("4711")}) == {"qty": Decimal(4711), "price": Decimal("4711")}
    assert m.value({"customer_id": Decimal(4711)}) == {"customer_id": TOKEN}  # a number is an id only under an id key


def test_json_text_is_masked_value_by_value_and_its_numbers_keep_their_spelling():
    raw = '{"id":4711,"qty":4711,"amount":12.50,"big":1.0e3,"name":"Acme Trading","note":"call +86 138 0013 8000",'
    raw += '"lines":[{"sku":"C-1001"}]}'
    masked = masker().value(raw)
    assert masked == (
        f'{{"id":"{TOKEN}","qty":4711,"amount":12.50,"big":1.0e3,"name":"{TOKEN}","note":"call {TOKEN}","lines":[{{"sku":"{TOKEN}"}}]}}'
    )
    assert json.loads(masked)["qty"] == 4711
    untouched = '{"amount": 12.50, "name": "Other Co"}'
    assert masker().value(untouched) is untouched and not masker().names(untouched)


def test_a_subject_without_identifying_values_searches_only_its_ids():
    m = Masker(subject_of(TOKEN, ["cus_1"], [], [("name", ""), ("email", "not an address")], []))
    assert m.subject.needles() == ["cus_1"]
    assert not m.names({"email": "not an address"}) and m.names(["x", {"ref": "customer#cus_1"}])
