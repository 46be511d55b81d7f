def test_resources_exist_on_the_standin(aws):
    from chalicelib.runtime import aws as clients

    tables = clients.client("dynamodb").list_tables()["TableNames"]
    assert "salesbridge-state" in tables and "salesbridge-audit" in tables
    queues = clients.client("sqs").list_queues()["QueueUrls"]
    assert any(q.endswith("salesbridge-inbound.fifo") for q in queues)
