"""A small, safe expression language for mappings and rules.

Integrators write Python-like expressions (``record.Amount * 100``,
``grade == "D" and total > 1000000``) in configuration files. We parse them with
``ast``, accept only a whitelist of node types, and compile each one once into
nested closures, so evaluating is a few function calls and never touches the AST
again. There is no attribute access on objects (only keys of dicts), no calls
outside a fixed list of functions, no comprehensions, lambdas or f-strings, and
sizes are bounded so a rule cannot exhaust memory or CPU.

Numbers are ``Decimal``: literals, and ints/floats coming from data (floats via
``str()`` so ``0.1`` stays ``0.1``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Mapping
from decimal import ROUND_HALF_UP, Decimal, DecimalException, InvalidOperation
from typing import Any

from chalicelib.errors import EvaluationError, ExpressionError

MAX_SOURCE_LENGTH = 2_000
MAX_NODES = 300
MAX_STRING_LENGTH = 10_000
MAX_EXPONENT = 100
MAX_ROUND_DIGITS = 28

Env = Mapping[str, Any]
Evaluator = Callable[[Env], Any]
# A special form: a call the caller compiles itself (``changed(status)``, ``count(activity, ...)``),
# given the call's node and the compiler (to compile its parts, or to refuse them at their column).
Form = Callable[[ast.Call, "Compiler"], Evaluator]


class Expression:
    """A compiled expression: call it with a mapping of names to values."""

    __slots__ = ("source", "names", "_evaluate")

    def __init__(self, source: str, names: frozenset[str], evaluate: Evaluator):
        self.source = source
        self.names = names
        self._evaluate = evaluate

    def __call__(self, env: Env) -> Any:
        try:
            return self._evaluate(env)
        except EvaluationError:
            raise
        except (DecimalException, ArithmeticError) as exc:
            raise EvaluationError(f"arithmetic error: {type(exc).__name__}") from None
        except (TypeError, ValueError, KeyError, IndexError, RecursionError, MemoryError) as exc:
            raise EvaluationError(f"cannot evaluate: {exc}") from None

    evaluate = __call__

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


# ----------------------------------------------------------------------------- values


def to_number(value: Any) -> Decimal:
    """Decimal view of a data value, or EvaluationError when it is not a number."""
    if type(value) is Decimal:
        return value
    if isinstance(value, bool) or value is None:
        raise EvaluationError(f"expected a number, got {_describe(value)}")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    raise EvaluationError(f"expected a number, got {_describe(value)}; convert text with decimal(...)")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _check_string(value: str) -> str:
    if len(value) > MAX_STRING_LENGTH:
        raise EvaluationError(f"string longer than {MAX_STRING_LENGTH} characters")
    return value


# ----------------------------------------------------------------------------- functions


def _fn_len(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, (str, list, tuple, dict)):
        return Decimal(len(value))
    raise EvaluationError(f"len() expects text or a list, got {_describe(value)}")


def _text_fn(name: str, op: Callable[[str], str]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise EvaluationError(f"{name}() expects text, got {_describe(value)}")
        return op(value)

    return apply


def _fn_round(value: Any, digits: Any = Decimal(0)) -> Decimal | None:
    if value is None:
        return None
    places = to_number(digits)
    if places != places.to_integral_value() or not 0 <= places <= MAX_ROUND_DIGITS:
        raise EvaluationError(f"round() digits must be a whole number 0..{MAX_ROUND_DIGITS}")
    return to_number(value).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)


def _fn_abs(value: Any) -> Decimal | None:
    return None if value is None else abs(to_number(value))


def _numbers(args: tuple[Any, ...], name: str) -> list[Decimal]:
    items = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
    numbers = [to_number(item) for item in items if item is not None]
    if not numbers and name != "sum":
        raise EvaluationError(f"{name}() of nothing")
    return numbers


def _fn_min(*args: Any) -> Decimal:
    return min(_numbers(args, "min"))


def _fn_max(*args: Any) -> Decimal:
    return max(_numbers(args, "max"))


def _fn_sum(values: Any) -> Decimal:
    if not isinstance(values, (list, tuple)):
        raise EvaluationError(f"sum() expects a list, got {_describe(values)}")
    return sum(_numbers((values,), "sum"), Decimal(0))


def _fn_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise EvaluationError(f"decimal() cannot read {_describe(value)}") from None
        if not number.is_finite():
            raise EvaluationError(f"decimal() cannot read {_describe(value)}")
        return number
    return to_number(value)


def _fn_coalesce(*args: Any) -> Any:
    for value in args:
        if value is not None:
            return value
    return None


def _fn_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float, Decimal)):
        return _check_string(str(value))
    raise EvaluationError(f"str() expects a scalar, got {_describe(value)}")


def _fn_startswith(value: Any, prefix: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, str) or not isinstance(prefix, str):
        raise EvaluationError(f"startswith() expects text, got {_describe(value)} and {_describe(prefix)}")
    return value.startswith(prefix)


# name -> (function, minimum arguments, maximum arguments or None for any)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "len": (_fn_len, 1, 1),
    "lower": (_text_fn("lower", str.lower), 1, 1),
    "upper": (_text_fn("upper", str.upper), 1, 1),
    "trim": (_text_fn("trim", str.strip), 1, 1),
    "round": (_fn_round, 1, 2),
    "abs": (_fn_abs, 1, 1),
    "min": (_fn_min, 1, None),
    "max": (_fn_max, 1, None),
    "sum": (_fn_sum, 1, 1),
    "decimal": (_fn_decimal, 1, 1),
    "coalesce": (_fn_coalesce, 1, None),
    "str": (_fn_str, 1, 1),
    "startswith": (_fn_startswith, 2, 2),
}


# ----------------------------------------------------------------------------- operators


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, str) and isinstance(right, str):
        return _check_string(left + right)
    if isinstance(left, str) or isinstance(right, str):
        raise EvaluationError(f"cannot add {_describe(left)} and {_describe(right)}; use str(...) to join text")
    return to_number(left) + to_number(right)


def _sub(left: Any, right: Any) -> Decimal:
    return to_number(left) - to_number(right)


def _mul(left: Any, right: Any) -> Decimal:
    return to_number(left) * to_number(right)


def _div(left: Any, right: Any) -> Decimal:
    divisor = to_number(right)
    if divisor == 0:
        raise EvaluationError("division by zero")
    return to_number(left) / divisor


def _floordiv(left: Any, right: Any) -> Decimal:
    divisor = to_number(right)
    if divisor == 0:
        raise EvaluationError("division by zero")
    return to_number(left) // divisor


def _mod(left: Any, right: Any) -> Decimal:
    divisor = to_number(right)
    if divisor == 0:
        raise EvaluationError("division by zero")
    return to_number(left) % divisor


def _pow(left: Any, right: Any) -> Decimal:
    exponent = to_number(right)
    if exponent != exponent.to_integral_value() or abs(exponent) > MAX_EXPONENT:
        raise EvaluationError(f"exponent must be a whole number within ±{MAX_EXPONENT}")
    return to_number(left) ** int(exponent)


_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: _add,
    ast.Sub: _sub,
    ast.Mult: _mul,
    ast.Div: _div,
    ast.FloorDiv: _floordiv,
    ast.Mod: _mod,
    ast.Pow: _pow,
}


def _ordered(op: Callable[[Any, Any], bool], symbol: str) -> Callable[[Any, Any], bool]:
    """Ordering comparison: numbers with numbers, text with text; null compares false."""

    def compare(left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False
        if _is_number(left) and _is_number(right):
            return op(to_number(left), to_number(right))
        if type(left) is type(right) and not isinstance(left, (dict, list, tuple, bool)):
            return op(left, right)
        raise EvaluationError(f"cannot compare {_describe(left)} {symbol} {_describe(right)}")

    return compare


def _equal(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(to_number(left) == to_number(right))
    return bool(left == right)


def _contains(left: Any, right: Any) -> bool:
    if right is None:
        return False
    if isinstance(right, str):
        if not isinstance(left, str):
            raise EvaluationError(f"'in' text expects text on the left, got {_describe(left)}")
        return left in right
    if isinstance(right, (list, tuple)):
        return any(_equal(left, item) for item in right)
    if isinstance(right, dict):
        return left in right
    raise EvaluationError(f"'in' expects text, a list or an object on the right, got {_describe(right)}")


_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: _equal,
    ast.NotEq: lambda a, b: not _equal(a, b),
    ast.Lt: _ordered(lambda a, b: a < b, "<"),
    ast.LtE: _ordered(lambda a, b: a <= b, "<="),
    ast.Gt: _ordered(lambda a, b: a > b, ">"),
    ast.GtE: _ordered(lambda a, b: a >= b, ">="),
    ast.In: _contains,
    ast.NotIn: lambda a, b: not _contains(a, b),
    ast.Is: lambda a, b: a is b,
    ast.IsNot: lambda a, b: a is not b,
}


def _get_key(container: Any, key: Any) -> Any:
    """``a.b`` / ``a["b"]`` / ``a[0]``: keys of dicts and indexes of lists only; null propagates."""
    if container is None:
        return None
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, (list, tuple, str)):
        if not _is_number(key):
            raise EvaluationError(f"a list index must be a number, got {_describe(key)}")
        index = to_number(key)
        if index != index.to_integral_value():
            raise EvaluationError(f"a list index must be a whole number, got {index}")
        position = int(index)
        if -len(container) <= position < len(container):
            return container[position]
        return None
    raise EvaluationError(f"cannot look up {key!r} in {_describe(container)}")


# ----------------------------------------------------------------------------- compiler


class Compiler:
    """Turns a checked AST into closures; every refusal names the column."""

    def __init__(self, source: str, allowed_names: Collection[str] | None, lead: int = 0, forms: Mapping[str, Form] | None = None):
        self.source = source
        self.lead = lead
        self.allowed_names = allowed_names
        self.forms: Mapping[str, Form] = forms or {}
        self.names: set[str] = set()
        self._encoded = source.encode("utf-8")

    def segment(self, node: ast.AST) -> str:
        """The source text of a part of the expression."""
        return ast.get_source_segment(self.source, node) or ""

    def column(self, node: ast.AST) -> int:
        offset = getattr(node, "col_offset", 0)
        return len(self._encoded[:offset].decode("utf-8", errors="ignore")) + 1 + self.lead

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(message, self.column(node))

    def compile(self, node: ast.AST) -> Evaluator:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise self.fail(node, f"{_node_label(node)} is not allowed in expressions")
        evaluator: Evaluator = method(node)
        return evaluator

    def _Constant(self, node: ast.Constant) -> Evaluator:
        value = node.value
        if isinstance(value, bool) or value is None:
            return lambda env: value
        if isinstance(value, (int, float)):
            text = ast.get_source_segment(self.source, node) or str(value)
            try:
                number = Decimal(text.replace("_", ""))
            except InvalidOperation:
                number = Decimal(str(value))
            return lambda env: number
        if isinstance(value, str):
            if len(value) > MAX_STRING_LENGTH:
                raise self.fail(node, f"text literal longer than {MAX_STRING_LENGTH} characters")
            return lambda env: value
        raise self.fail(node, f"{type(value).__name__} literals are not allowed")

    def _Name(self, node: ast.Name) -> Evaluator:
        name = node.id
        if name.startswith("_"):
            raise self.fail(node, f"names starting with '_' are not allowed: {name}")
        if name in FUNCTIONS or name in self.forms:
            raise self.fail(node, f"{name} is a function: call it, e.g. {name}(...)")
        if self.allowed_names is not None and name not in self.allowed_names:
            known = ", ".join(sorted(self.allowed_names)) or "none"
            raise self.fail(node, f"unknown name {name!r} (available here: {known})")
        self.names.add(name)
        return lambda env: env.get(name)

    def _Attribute(self, node: ast.Attribute) -> Evaluator:
        if node.attr.startswith("_"):
            raise self.fail(node, f"names starting with '_' are not allowed: .{node.attr}")
        target = self.compile(node.value)
        key = node.attr
        return lambda env: _get_key(target(env), key)

    def _Subscript(self, node: ast.Subscript) -> Evaluator:
        if isinstance(node.slice, ast.Slice):
            raise self.fail(node.slice, "slices are not allowed")
        target = self.compile(node.value)
        key = self.compile(node.slice)
        return lambda env: _get_key(target(env), key(env))

    def _BinOp(self, node: ast.BinOp) -> Evaluator:
        op = _BINARY.get(type(node.op))
        if op is None:
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant):
            exponent = node.right.value
            if not isinstance(exponent, int) or isinstance(exponent, bool) or abs(exponent) > MAX_EXPONENT:
                raise self.fail(node.right, f"exponent must be a whole number within ±{MAX_EXPONENT}")
        left, right = self.compile(node.left), self.compile(node.right)
        return lambda env: op(left(env), right(env))

    def _UnaryOp(self, node: ast.UnaryOp) -> Evaluator:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda env: not operand(env)
        if isinstance(node.op, ast.USub):
            return lambda env: -to_number(operand(env))
        if isinstance(node.op, ast.UAdd):
            return lambda env: to_number(operand(env))
        raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")

    def _BoolOp(self, node: ast.BoolOp) -> Evaluator:
        parts = [self.compile(value) for value in node.values]
        if isinstance(node.op, ast.And):

            def all_true(env: Env) -> Any:
                result: Any = True
                for part in parts:
                    result = part(env)
                    if not result:
                        return result
                return result

            return all_true

        def any_true(env: Env) -> Any:
            result: Any = False
            for part in parts:
                result = part(env)
                if result:
                    return result
            return result

        return any_true

    def _Compare(self, node: ast.Compare) -> Evaluator:
        first = self.compile(node.left)
        steps: list[tuple[Callable[[Any, Any], bool], Evaluator]] = []
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.Is, ast.IsNot)) and not (isinstance(comparator, ast.Constant) and comparator.value is None):
                raise self.fail(comparator, "'is' / 'is not' may only compare with None")
            steps.append((_COMPARE[type(op)], self.compile(comparator)))
        if len(steps) == 1:
            compare, second = steps[0]
            return lambda env: compare(first(env), second(env))

        def chained(env: Env) -> bool:
            left = first(env)
            for compare, next_value in steps:
                right = next_value(env)
                if not compare(left, right):
                    return False
                left = right
            return True

        return chained

    def _IfExp(self, node: ast.IfExp) -> Evaluator:
        test, body, orelse = self.compile(node.test), self.compile(node.body), self.compile(node.orelse)
        return lambda env: body(env) if test(env) else orelse(env)

    def _Call(self, node: ast.Call) -> Evaluator:
        if isinstance(node.func, ast.Name) and node.func.id in self.forms:
            return self.forms[node.func.id](node, self)
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the built-in functions may be called: " + ", ".join(FUNCTIONS))
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.fail(node, f"unknown function {name!r} (available: {', '.join(FUNCTIONS)})")
        if node.keywords:
            raise self.fail(node.keywords[0], "keyword arguments are not allowed")
        function, low, high = FUNCTIONS[name]
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise self.fail(node, "*arguments are not allowed")
        count = len(node.args)
        if count < low or (high is not None and count > high):
            expected = str(low) if low == high else f"{low}..{high if high is not None else 'n'}"
            raise self.fail(node, f"{name}() takes {expected} argument(s), got {count}")
        args = [self.compile(arg) for arg in node.args]
        if len(args) == 1:
            only = args[0]
            return lambda env: function(only(env))
        return lambda env: function(*[arg(env) for arg in args])

    def _List(self, node: ast.List) -> Evaluator:
        items = [self.compile(item) for item in node.elts]
        return lambda env: [item(env) for item in items]

    def _Tuple(self, node: ast.Tuple) -> Evaluator:
        items = [self.compile(item) for item in node.elts]
        return lambda env: tuple(item(env) for item in items)


def _node_label(node: ast.AST) -> str:
    labels = {
        "Lambda": "lambda",
        "ListComp": "a list comprehension",
        "SetComp": "a set comprehension",
        "DictComp": "a dict comprehension",
        "GeneratorExp": "a generator expression",
        "JoinedStr": "an f-string",
        "NamedExpr": "':=' assignment",
        "Await": "await",
        "Yield": "yield",
        "Starred": "'*' unpacking",
        "Dict": "a dict literal",
        "Set": "a set literal",
    }
    return labels.get(type(node).__name__, f"{type(node).__name__} syntax")


def compile_expression(source: str, names: Collection[str] | None = None, forms: Mapping[str, Form] | None = None) -> Expression:
    """Check and compile ``source`` once; ``names`` (when given) are the only variables allowed.

    ``forms``: calls compiled by the caller (see ``Form``), beside the built-in functions.
    """
    if not isinstance(source, str):
        raise ExpressionError("an expression must be text")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_SOURCE_LENGTH} characters")
    if not source.strip():
        raise ExpressionError("empty expression")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        column = exc.offset or 1
        raise ExpressionError(f"syntax error: {exc.msg}", column + _leading_spaces(source)) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("expression is too deeply nested") from None
    count = 0
    for _ in ast.walk(tree):
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"expression is too large (more than {MAX_NODES} parts)")
    compiler = Compiler(source.strip(), names, _leading_spaces(source), forms)
    evaluate = compiler.compile(tree.body)
    return Expression(source, frozenset(compiler.names), evaluate)


def _leading_spaces(source: str) -> int:
    return len(source) - len(source.lstrip())
