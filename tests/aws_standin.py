"""The tests' AWS stand-in is the one ``make run`` uses: see local/aws_standin.py."""

from __future__ import annotations

from local.aws_standin import AwsStandIn, SerialisedDynamoDB

__all__ = ["AwsStandIn", "SerialisedDynamoDB"]
