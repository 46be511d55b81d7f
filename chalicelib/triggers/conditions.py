"""Custom-rule conditions, compiled by the shared safe expression language (chalicelib.domain.expressions).

The rules depend only on this narrow face — `compile_condition(text, names)` and
`Condition.evaluate(env) -> bool` with the `names` it reads — so the engine can change underneath.
A condition that cannot be evaluated on some data (a missing number, a type mismatch) is false for
that data: a custom rule never breaks the processing of a record.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from chalicelib.domain.expressions import Expression, compile_expression
from chalicelib.errors import ConditionError, EvaluationError, ExpressionError


class Condition:
    __slots__ = ("names", "_expression")

    def __init__(self, expression: Expression):
        self._expression = expression
        self.names = expression.names

    def evaluate(self, env: dict[str, Any]) -> bool:
        try:
            return self._expression(env) is True
        except EvaluationError:
            return False


def compile_condition(text: str, allowed_names: Collection[str]) -> Condition:
    """Check and compile once at load; raises ConditionError naming the column and the problem."""
    try:
        return Condition(compile_expression(text, allowed_names))
    except ExpressionError as exc:
        raise ConditionError(str(exc)) from None
