"""AWS list prices, us-east-1, on demand, for the cost benchmark: the one price table.

As of 2026-11. Sources: the AWS pricing pages (aws.amazon.com/<service>/pricing: api-gateway,
lambda, sqs, dynamodb, eventbridge, cloudwatch, xray, kms, systems-manager, secrets-manager),
checked against the team's measured notes (FIELD-NOTES.md, "Prices"). First pricing tier
throughout, no free tier, no savings plans. The comparison is Airbyte Cloud's published
price for rows from API sources.
"""

from __future__ import annotations

from decimal import Decimal

AS_OF = "2026-11"
SOURCE = "aws.amazon.com/<service>/pricing (us-east-1, on demand, first tier, no free tier)"

PER_MILLION = Decimal(1_000_000)

API_GATEWAY_REST_PER_REQUEST = Decimal("3.50") / PER_MILLION
API_GATEWAY_HTTP_PER_REQUEST = Decimal("1.00") / PER_MILLION  # HTTP API, metered in 512 KB increments
LAMBDA_PER_REQUEST = Decimal("0.20") / PER_MILLION
LAMBDA_PER_GB_SECOND = {"x86_64": Decimal("0.0000166667"), "arm64": Decimal("0.0000133334")}
SQS_FIFO_PER_REQUEST = Decimal("0.50") / PER_MILLION  # each 64 KB chunk of a request's payload is one request
DYNAMODB_PER_WRITE_UNIT = Decimal("0.625") / PER_MILLION  # on-demand write request unit; every index write billed again
DYNAMODB_PER_READ_UNIT = Decimal("0.125") / PER_MILLION  # on-demand read request unit
# Provisioned capacity (TableBillingMode=PROVISIONED): per unit-hour, paid whether used or not. A unit
# kept at the auto scaling target's utilisation serves 3,600 × utilisation requests units an hour.
DYNAMODB_PER_WCU_HOUR = Decimal("0.00065")
DYNAMODB_PER_RCU_HOUR = Decimal("0.00013")
PROVISIONED_UTILISATION = Decimal("0.70")  # infra/capacity.py's default CapacityTargetUtilization
DYNAMODB_STREAM_READS_BY_LAMBDA = Decimal(0)  # GetRecords by a Lambda trigger is not billed
EVENTBRIDGE_PER_EVENT = Decimal("1.00") / PER_MILLION  # custom events; each 64 KB chunk is one event
CLOUDWATCH_LOGS_PER_GB = Decimal("0.50")  # ingestion, Standard log class (storage $0.03 per GB-month not included)
XRAY_PER_TRACE = Decimal("5.00") / PER_MILLION  # traces recorded
KMS_PER_REQUEST = Decimal("0.03") / Decimal(10_000)  # also for AWS managed keys (aws/ssm) used on your behalf
SSM_PARAMETER_STANDARD_PER_REQUEST = Decimal(0)  # standard parameters, standard throughput
SECRETS_MANAGER_PER_REQUEST = Decimal("0.05") / Decimal(10_000)

AIRBYTE_CLOUD_PER_MILLION_ROWS = Decimal(15)  # API sources


def provisioned_per_unit(unit_hour: Decimal) -> Decimal:
    """What one request unit costs on provisioned capacity kept at the target utilisation."""
    return unit_hour / Decimal(3600) / PROVISIONED_UTILISATION
