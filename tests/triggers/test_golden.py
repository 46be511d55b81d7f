from decimal import Decimal

from chalicelib.domain.golden import Survivorship, merge
from chalicelib.domain.state import golden_key
from chalicelib.store import keys
from tests.triggers.helpers import rec

OWNERS = Survivorship(owners={"customer": {"grade": "crm", "credit_limit": "erp"}})


def test_first_update_sets_fields_with_provenance():
    result = merge(None, rec("customer", "c1", {"grade": "A", "name": "Acme"}, system="crm"), "c1", OWNERS)
    assert not result.stale and result.first_sight
    assert result.item["fields"] == {"grade": "A", "name": "Acme"}
    assert result.item["provenance"]["grade"]["system"] == "crm"
    assert result.changed == {"grade": (None, "A"), "name": (None, "Acme")}


def test_non_owner_value_is_kept_per_source_but_changes_nothing():
    first = merge(None, rec("customer", "c1", {"grade": "A"}, system="crm"), "c1", OWNERS).item
    result = merge(first, rec("customer", "c1", {"grade": "D", "credit_limit": Decimal("5")}, system="erp", at=5), "c1", OWNERS)
    assert result.item["fields"]["grade"] == "A"
    assert result.item["fields"]["credit_limit"] == Decimal("5")
    assert result.item["sources"]["erp/customer/c1"]["fields"]["grade"] == "D" and result.ignored == {"grade": "D"}
    assert "grade" not in result.changed


def test_stale_and_duplicate_updates_change_nothing():
    first = merge(None, rec("customer", "c1", {"grade": "A"}, system="crm", at=10), "c1", OWNERS).item
    assert merge(first, rec("customer", "c1", {"grade": "B"}, system="crm", at=10), "c1", OWNERS).stale  # duplicate
    assert merge(first, rec("customer", "c1", {"grade": "B"}, system="crm", at=9), "c1", OWNERS).stale  # older
    assert not merge(first, rec("customer", "c1", {"grade": "B"}, system="crm", at=11), "c1", OWNERS).stale


def test_staleness_is_per_source():
    first = merge(None, rec("customer", "c1", {"grade": "A"}, system="crm", at=10), "c1", OWNERS).item
    later = merge(first, rec("customer", "c1", {"credit_limit": Decimal("9")}, system="erp", at=1), "c1", OWNERS)
    assert not later.stale and later.item["fields"]["credit_limit"] == Decimal("9")


def test_absent_is_unchanged_and_none_clears():
    first = merge(None, rec("customer", "c1", {"name": "Acme", "city": "SH"}, system="crm"), "c1", OWNERS).item
    second = merge(first, rec("customer", "c1", {"city": None}, system="crm", at=1), "c1", OWNERS).item
    assert second["fields"] == {"name": "Acme"}


def test_unowned_field_takes_the_newest_value_from_any_source():
    first = merge(None, rec("customer", "c1", {"city": "SH"}, system="crm", at=10), "c1", OWNERS).item
    older = merge(first, rec("customer", "c1", {"city": "BJ"}, system="erp", at=5), "c1", OWNERS)
    assert older.item["fields"]["city"] == "SH"
    newer = merge(first, rec("customer", "c1", {"city": "BJ"}, system="erp", at=15), "c1", OWNERS)
    assert newer.item["fields"]["city"] == "BJ"


def test_golden_key():
    assert keys.state(golden_key("customer", "c1")) == ("customer#c1", "golden")
