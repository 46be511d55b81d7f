"""The kinds of configuration file: each YAML file declares one, and its feature owns the model of it."""

from __future__ import annotations

MAPPING_KINDS = ("mapping", "grade_scale", "code_list")
CONSENT_KINDS = ("consent_policy",)
TRIGGER_KINDS = ("triggers", "rebate_policy")
CONNECTOR_KINDS = ("connector", "subscribers")
RULE_KINDS = ("rules",)
IDENTITY_KINDS = ("identity",)
KINDS = MAPPING_KINDS + TRIGGER_KINDS + CONNECTOR_KINDS + CONSENT_KINDS + IDENTITY_KINDS + RULE_KINDS
