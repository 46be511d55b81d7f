"""The stand-in's cached per-request lookups answer what moto computes, and are computed once."""

from __future__ import annotations

from moto.dynamodb.responses import DynamoHandler
from moto.sqs.responses import SQSResponse

from local.moto_request_lookups import CachedRequestLookups


def test_the_service_modules_are_moto_s_and_listed_once() -> None:
    listed = CachedRequestLookups.list_of_moto_modules()
    assert list(listed) == list(CachedRequestLookups.moto_list_of_moto_modules())
    assert "dynamodb" in listed and "sqs" in listed
    assert CachedRequestLookups.list_of_moto_modules() is listed


def test_each_handler_class_s_methods_are_moto_s_and_listed_once() -> None:
    for handler in (DynamoHandler, SQSResponse):
        names = CachedRequestLookups.method_names_from_class(handler)
        assert names == CachedRequestLookups.moto_method_names_from_class(handler)
        assert CachedRequestLookups.method_names_from_class(handler) is names
    assert "transact_write_items" in CachedRequestLookups.method_names_from_class(DynamoHandler)
