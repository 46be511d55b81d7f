"""`kind: identity` — how records of different systems are recognised as one entity, and which value survives.

::

    kind: identity
    entities:
      customer:
        match: [tax_id, phone, email]           # match keys, best first: canonical fields, normalised
        survivorship:
          name: [kingdee, demo_crm]             # systems in order of preference (owner fields aside)

A match key is a canonical field (``tax_id`` is short for ``{name: tax_id, field: tax_id}``) or
an expression over the canonical fields (``{name: member_card, expr: "record.member_no"}``),
normalised by its kind (``tax_id``, ``phone``, ``email``; anything else as trimmed case-folded text).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.config.documents import Document
from chalicelib.config.models import StrictModel, problem_at, validate
from chalicelib.config.problems import Problem
from chalicelib.domain.canonical import ENTITY_MODELS, EntityType
from chalicelib.domain.expressions import compile_expression
from chalicelib.domain.identity import NORMALISERS, IdentityRules, MatchKey
from chalicelib.errors import ExpressionError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class MatchKeySpec(StrictModel):
    name: str = Field(description="The key kind, e.g. tax_id, phone, email, member_card")
    field: str | None = Field(None, description="The canonical field it is read from (default: the name)")
    expr: str | None = Field(None, description="An expression over `record` (the canonical fields) instead of a field")
    normalise: Literal["tax_id", "phone", "email", "text"] | None = Field(None, description="Default: by the name, else text")

    @field_validator("name")
    @classmethod
    def _key_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"{name!r}: use lower_snake_case")
        return name

    @field_validator("expr")
    @classmethod
    def _compiles(cls, text: str | None) -> str | None:
        if text is not None:
            try:
                compile_expression(text, {"record"})
            except ExpressionError as exc:
                raise ValueError(str(exc)) from None
        return text

    @model_validator(mode="after")
    def _one_source(self) -> MatchKeySpec:
        if self.field and self.expr:
            raise ValueError("give field or expr, not both")
        return self


class EntityIdentitySpec(StrictModel):
    match: list[MatchKeySpec | str] = Field(default_factory=list, description="Match keys, best first")
    survivorship: dict[str, list[str]] = Field(
        default_factory=dict, description="field -> systems in order of preference (a field's owner, if any, comes first)"
    )


class IdentityFile(StrictModel):
    kind: Literal["identity"]
    description: str | None = None
    entities: dict[EntityType, EntityIdentitySpec] = Field(default_factory=dict)


def load_identity(docs: list[Document], systems: set[str]) -> tuple[IdentityRules, dict[str, dict[str, tuple[str, ...]]], list[Problem]]:
    """The match keys and survivorship preferences; systems named must be connectors' systems."""
    if not docs:
        return IdentityRules(), {}, []
    problems = [Problem(n, *d.position, "kind", "only one 'kind: identity' file is allowed") for n, d in docs[1:]]
    file, doc = docs[0]
    spec, found = validate(IdentityFile, doc, file)
    problems += found
    if spec is None:
        return IdentityRules(), {}, problems
    keys: dict[str, tuple[MatchKey, ...]] = {}
    priority: dict[str, dict[str, tuple[str, ...]]] = {}
    for entity, entity_spec in spec.entities.items():
        known = set(ENTITY_MODELS[entity].model_fields)
        built = []
        for index, raw in enumerate(entity_spec.match):
            key = MatchKeySpec(name=raw) if isinstance(raw, str) else raw
            path: tuple[Any, ...] = ("entities", entity, "match", index)
            field_name = None if key.expr else (key.field or key.name)
            if field_name is not None and field_name not in known:
                problems.append(problem_at(doc, file, path, f"unknown canonical field {field_name!r} for {entity}"))
                continue
            normaliser = key.normalise or (key.name if key.name in NORMALISERS else "text")
            expression = compile_expression(key.expr, {"record"}) if key.expr else None
            built.append(MatchKey(key.name, normaliser, field_name, expression))
        names = [k.name for k in built]
        for index, name in enumerate(names):
            if name in names[:index]:
                problems.append(problem_at(doc, file, ("entities", entity, "match", index), f"match key {name!r} is declared twice"))
        keys[entity] = tuple(built)
        for field_name, order in entity_spec.survivorship.items():
            path = ("entities", entity, "survivorship", field_name)
            if field_name not in known:
                problems.append(problem_at(doc, file, path, f"unknown canonical field {field_name!r} for {entity}"))
            for index, system in enumerate(order):
                if system not in systems:
                    problems.append(
                        problem_at(doc, file, (*path, index), f"unknown system {system!r}; connectors: {', '.join(sorted(systems))}")
                    )
            priority.setdefault(entity, {})[field_name] = tuple(order)
    return IdentityRules(keys), priority, problems
