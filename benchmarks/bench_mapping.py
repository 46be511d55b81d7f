"""Throughput of compiled mappings against a hand-written function and jsonata-python.

Two realistic records: a Salesforce account (customer) and a Kingdee sales order with
20 lines. For each, the same transformation is done three ways in the same run:
the compiled mapping from mappings/, a hand-written Python function (the practical
limit), and a JSONata expression (jsonata-python). Prints one line per case.

    .venv/bin/python benchmarks/bench_mapping.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jsonata  # noqa: E402

from chalicelib.domain.canonical import CanonicalRecord, SourceRef  # noqa: E402
from chalicelib.mapping import load_mapping_set  # noqa: E402

ACCOUNT = {
    "attributes": {"type": "Account", "url": "/services/data/v60.0/sobjects/Account/001Hs00002ZxYzAIAV"},
    "Id": "001Hs00002ZxYzAIAV",
    "Name": "Edge Communications",
    "Customer_Grade__c": "Gold",
    "Phone": "(512) 757-6000",
    "Industry": "Electronics",
    "Type": "Channel Partner / Reseller",
    "BillingAddress": {"City": "Austin", "State": "TX", "CountryCode": "US", "Street": "312 Constitution Place"},
    "Credit_Limit__c": Decimal("250000.50"),
    "CurrencyIsoCode": "usd",
    "OwnerId": "005Hs00000ABCDeIAH",
    "LastModifiedDate": "2026-11-01T08:00:00.000+0000",
}

ORDER = {
    "FID": 100234,
    "FBillNo": "XSDD000123",
    "FDate": "2026-11-01T00:00:00",
    "FModifyDate": "2026-11-01T10:15:30.123",
    "FDocumentStatus": "C",
    "FCustId": {"FNumber": "CUST0001", "FName": "上海华东贸易有限公司"},
    "FSettleCurrId": {"FNumber": "PRE001"},
    "FBillAllAmount": Decimal("22600.00"),
    "FSaleOrderEntry": [
        {
            "FEntryID": 100500 + i,
            "FMaterialId": {"FNumber": f"SKU-{i:03d}"},
            "FQty": Decimal(10 + i),
            "FTaxPrice": Decimal("113.00"),
            "FDiscount": Decimal("0") if i % 3 else Decimal("5.00"),
            "FAllAmount": Decimal("1130.00"),
        }
        for i in range(20)
    ],
}

# ----------------------------------------------------------------------------- hand-written

GRADES = {"platinum": "S", "gold": "A", "silver": "B", "bronze": "C", "prospect": "D", "钻石": "S", "金牌": "A", "银牌": "B", "铜牌": "C"}


def _phone_us(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit())
    return "+" + digits if text.startswith("+") else "+1" + digits


def hand_account(p: dict[str, Any]) -> CanonicalRecord:
    fields: dict[str, Any] = {}
    if "Name" in p and p["Name"] is not None:
        fields["name"] = p["Name"].strip()
    if p.get("Customer_Grade__c") is not None:
        fields["grade"] = GRADES[p["Customer_Grade__c"].strip().casefold()]
    if "Phone" in p:
        fields["phone"] = _phone_us(p["Phone"]) if p["Phone"] else None
    if "Industry" in p:
        fields["industry"] = p["Industry"]
    address = p.get("BillingAddress") or {}
    for source, target in (("CountryCode", "country"), ("State", "region"), ("City", "city")):
        if address.get(source) is not None:
            fields[target] = address[source]
    if p.get("Credit_Limit__c") is not None:
        fields["credit_limit"] = Decimal(str(p["Credit_Limit__c"]))
    if p.get("CurrencyIsoCode") is not None:
        fields["currency"] = p["CurrencyIsoCode"].strip().upper()
    if p.get("OwnerId") is not None:
        fields["owner"] = p["OwnerId"]
    if "Type" in p:
        fields["is_distributor"] = p["Type"] == "Channel Partner / Reseller"
    names = list(fields)
    return CanonicalRecord.model_construct(
        entity="customer",
        source=SourceRef.model_construct(system="salesforce", entity="customer", id=p["Id"]),
        source_time=datetime.fromisoformat(p["LastModifiedDate"]),
        fields=fields,
        references={},
        lineage={n: n for n in names},
        categories={},
        owners={n: "salesforce" for n in names},
        mapping="salesforce_account",
        mapping_version="hand",
    )


SHANGHAI = ZoneInfo("Asia/Shanghai")
STATUS = {"A": "open", "B": "open", "C": "confirmed", "D": "open", "Z": "open"}
CURRENCIES = {"PRE001": "CNY", "PRE007": "USD"}


def hand_order(p: dict[str, Any]) -> CanonicalRecord:
    lines = [
        {
            "line_id": str(item["FEntryID"]),
            "sku": item["FMaterialId"]["FNumber"],
            "quantity": Decimal(item["FQty"]),
            "unit_price": Decimal(item["FTaxPrice"]),
            "discount": Decimal(item.get("FDiscount") or 0),
            "amount": Decimal(item["FAllAmount"]),
        }
        for item in p["FSaleOrderEntry"]
    ]
    fields = {
        "order_number": p["FBillNo"],
        "placed_at": datetime.fromisoformat(p["FDate"]).replace(tzinfo=SHANGHAI),
        "status": STATUS[p["FDocumentStatus"]],
        "currency": CURRENCIES[p["FSettleCurrId"]["FNumber"]],
        "total": Decimal(p["FBillAllAmount"]),
        "lines": lines,
    }
    return CanonicalRecord.model_construct(
        entity="order",
        source=SourceRef.model_construct(system="kingdee", entity="order", id=p["FBillNo"]),
        source_time=datetime.fromisoformat(p["FModifyDate"]).replace(tzinfo=SHANGHAI),
        fields=fields,
        references={"customer_id": SourceRef.model_construct(system="kingdee", entity="customer", id=p["FCustId"]["FNumber"])},
        lineage={n: n for n in fields},
        categories={},
        owners={n: "kingdee" for n in fields},
        mapping="kingdee_sale_order",
        mapping_version="hand",
    )


# ----------------------------------------------------------------------------- jsonata

JSONATA_ACCOUNT = """
(
  $grades := {"platinum": "S", "gold": "A", "silver": "B", "bronze": "C", "prospect": "D"};
  {
    "entity": "customer",
    "source": {"system": "salesforce", "entity": "customer", "id": Id},
    "source_time": LastModifiedDate,
    "fields": {
      "name": $trim(Name),
      "grade": $lookup($grades, $lowercase($trim(Customer_Grade__c))),
      "phone": "+1" & $replace(Phone, /[^0-9]/, ""),
      "industry": Industry,
      "country": BillingAddress.CountryCode,
      "region": BillingAddress.State,
      "city": BillingAddress.City,
      "credit_limit": $string(Credit_Limit__c),
      "currency": $uppercase($trim(CurrencyIsoCode)),
      "owner": OwnerId,
      "is_distributor": Type = "Channel Partner / Reseller"
    },
    "mapping": "salesforce_account"
  }
)
"""

JSONATA_ORDER = """
(
  $status := {"A": "open", "B": "open", "C": "confirmed", "D": "open", "Z": "open"};
  $currencies := {"PRE001": "CNY", "PRE007": "USD"};
  {
    "entity": "order",
    "source": {"system": "kingdee", "entity": "order", "id": FBillNo},
    "source_time": FModifyDate & "+08:00",
    "fields": {
      "order_number": FBillNo,
      "placed_at": FDate & "+08:00",
      "status": $lookup($status, FDocumentStatus),
      "currency": $lookup($currencies, FSettleCurrId.FNumber),
      "total": $string(FBillAllAmount),
      "lines": [FSaleOrderEntry.{
        "line_id": $string(FEntryID),
        "sku": FMaterialId.FNumber,
        "quantity": $string(FQty),
        "unit_price": $string(FTaxPrice),
        "discount": $string(FDiscount),
        "amount": $string(FAllAmount)
      }]
    },
    "references": {"customer_id": {"system": "kingdee", "entity": "customer", "id": FCustId.FNumber}},
    "mapping": "kingdee_sale_order"
  }
)
"""


def _as_json_numbers(value: Any) -> Any:
    """JSONata works on JSON numbers: give it floats where the pipeline gives Decimal."""
    if isinstance(value, dict):
        return {k: _as_json_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json_numbers(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


# ----------------------------------------------------------------------------- timing


def rate(function: Callable[[], Any], seconds: float = 1.0) -> float:
    """Records per second: best of three runs of about ``seconds / 3`` each."""
    function()
    best = 0.0
    batch = 1
    while True:  # size a batch to ~20 ms
        start = time.perf_counter()
        for _ in range(batch):
            function()
        took = time.perf_counter() - start
        if took > 0.02:
            break
        batch *= 2
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            for _ in range(batch):
                function()
            count += batch
        best = max(best, count / (time.perf_counter() - start))
    return best


def main() -> None:
    mappings = load_mapping_set(ROOT / "mappings")
    cases = [
        ("account", mappings.find("salesforce", "Account"), ACCOUNT, hand_account, JSONATA_ACCOUNT),
        ("order with 20 lines", mappings.find("kingdee", "SAL_SaleOrder"), ORDER, hand_order, JSONATA_ORDER),
    ]
    for label, mapping, payload, hand, query in cases:
        assert mapping is not None
        compiled = mapping.apply(payload)
        written = hand(payload)
        assert compiled.fields == written.fields, (compiled.fields, written.fields)
        expression = jsonata.Jsonata(query)
        json_payload = _as_json_numbers(payload)
        expression.evaluate(json_payload)
        ours = rate(partial(mapping.apply, payload))
        theirs = rate(partial(hand, payload))
        slow = rate(partial(expression.evaluate, json_payload), seconds=0.6)
        print(f"mapping {label}: {ours:,.0f} rec/s; {ours / theirs:.2f}x hand-written; {ours / slow:.1f}x jsonata")


if __name__ == "__main__":
    main()
