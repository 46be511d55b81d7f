"""The transform catalog: small value → value steps named in mapping files.

In a file a step is either a bare name (``- trim``) or a one-key object with
its argument (``- scale: {divide: 100}``). Each catalog entry checks its argument
once at load time and returns a plain function; every function lets ``None``
through untouched except ``default``, ``required`` and ``null_if``, which exist
to deal with nulls. Problems with a *value* raise ``ValueProblem``; problems with
the *argument* raise ``TransformConfigError`` (a load-time configuration error).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_UP, Clamped, Context, Decimal, Inexact, InvalidOperation, Overflow, Rounded, Underflow
from typing import TYPE_CHECKING, Any

from chalicelib.domain.expressions import compile_expression
from chalicelib.errors import EvaluationError, ExpressionError, TransformConfigError, ValueProblem

if TYPE_CHECKING:
    from chalicelib.mapping.code_lists import CodeList

Transform = Callable[[Any], Any]


@dataclass(frozen=True)
class BuildContext:
    """What a transform may need to know about where it is used."""

    timezone: tzinfo | None = None  # the mapping's declared time zone for naive source times
    allowed_values: tuple[str, ...] | None = None  # e.g. the grade scale, for map targets
    field: str = ""
    code_lists: Mapping[str, CodeList] = dataclasses.field(default_factory=dict)  # the shared code lists, by name
    system: str = ""  # the system of the mapping's connector: which codes of a code list apply


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"boolean {value}"
    return f"{type(value).__name__} {_short(value)}"


# ----------------------------------------------------------------------------- coercions


def to_string(value: Any) -> str | None:
    """Text, trimmed; numbers become their decimal text; objects, lists and booleans are refused."""
    if value is None:
        return None
    if type(value) is str:
        return value.strip()
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise ValueProblem("bad_type", f"expected text, got {_type_name(value)}")
    if isinstance(value, (int, Decimal, float)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise ValueProblem("bad_type", f"expected text, got {_type_name(value)}")


# The numbers the store holds (DynamoDB: at most 38 significant digits, magnitudes from 1E-130 to
# under 1E+126). The same context boto3 serialises with: any rounding, overflow or underflow is an error.
STORABLE = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])
STORABLE_RANGE = "at most 38 significant digits, and a magnitude from 1E-130 to under 1E+126"


def storable(number: Decimal, value: Any) -> Decimal:
    """``number`` exactly as the store can keep it (trailing zeros dropped if that makes it fit); else a ValueProblem."""
    try:
        STORABLE.create_decimal(number)
        return number
    except ArithmeticError:
        pass
    try:
        shorter = number.normalize(Context(prec=max(len(number.as_tuple().digits), 1), Emax=MAX_EMAX, Emin=MIN_EMIN))
        STORABLE.create_decimal(shorter)
        return shorter
    except ArithmeticError:
        pass
    raise ValueProblem("out_of_range", f"{_short(value)} cannot be stored: numbers need {STORABLE_RANGE}")


def to_decimal(value: Any) -> Decimal | None:
    """Exact decimal: floats go through ``str()`` so 0.1 stays 0.1; NaN/Infinity and numbers the store cannot hold are refused."""
    if value is None:
        return None
    if type(value) is Decimal:
        number = value
    elif isinstance(value, bool):
        raise ValueProblem("bad_type", f"expected a number, got {_type_name(value)}")
    elif isinstance(value, int):
        if abs(value) >= 10**126:  # before Decimal(): a huge int is slow to turn into text
            raise ValueProblem("out_of_range", f"this whole number cannot be stored: numbers need {STORABLE_RANGE}")
        return storable(Decimal(value), value)
    elif isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            raise ValueProblem("bad_type", f"expected a number, got {_type_name(value)}")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueProblem("bad_type", f"expected a number, got {_type_name(value)}") from None
    elif isinstance(value, Decimal):
        number = value
    else:
        raise ValueProblem("bad_type", f"expected a number, got {_type_name(value)}")
    if not number.is_finite():
        raise ValueProblem("bad_type", f"expected a finite number, got {_short(value)}")
    return storable(number, value)


def to_int(value: Any) -> int | None:
    """Whole number; ``"12"`` and ``12.0`` are accepted, ``12.5`` is not."""
    number = to_decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value() or abs(number.adjusted()) > 30:
        raise ValueProblem("bad_type", f"expected a whole number, got {_short(value)}")
    return int(number)


_TRUE = frozenset({"true", "yes", "y", "1", "t", "on", "是"})
_FALSE = frozenset({"false", "no", "n", "0", "f", "off", "否"})


def to_bool(value: Any) -> bool | None:
    """Booleans, 1/0 and the usual words (true/false, yes/no, 是/否)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().casefold()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueProblem("bad_type", f"expected true/false, got {_type_name(value)}")


# ----------------------------------------------------------------------------- date and time

UTC = UTC
_ODATA_DATE = re.compile(r"^/Date\((-?\d{1,15})([+-]\d{4})?\)/$")
DATETIME_FORMATS = ("iso8601", "epoch_ms", "epoch_s", "odata_date")


def _aware(moment: datetime, zone: tzinfo | None, raw: Any) -> datetime:
    if moment.tzinfo is not None:
        return moment
    if zone is None:
        raise ValueProblem(
            "bad_type",
            f"time {_short(raw)} has no UTC offset and the mapping declares no timezone",
            "add `timezone: <IANA name>` to the mapping (or to this datetime step)",
        )
    return moment.replace(tzinfo=zone)


def parse_iso8601(value: Any, zone: tzinfo | None = None) -> datetime | None:
    """ISO 8601 text (``Z``, ``+08:00`` and ``+0800`` offsets); naive text needs a declared zone."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value, zone, value)
    if not isinstance(value, str) or len(value) > 40:
        raise ValueProblem("bad_type", f"expected an ISO 8601 time, got {_type_name(value)}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueProblem("bad_type", f"expected an ISO 8601 time, got {_short(value)}") from None
    return _aware(moment, zone, value)


def _epoch(value: Any, divisor: int, label: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value, None, value)
    try:
        number = to_decimal(value)
    except ValueProblem:
        raise ValueProblem("bad_type", f"expected {label}, got {_type_name(value)}") from None
    assert number is not None
    seconds = number / divisor
    if abs(seconds) > 253_402_300_799:  # beyond year 9999
        raise ValueProblem("bad_type", f"{label} out of range: {_short(value)}")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=float(seconds))


def parse_epoch_ms(value: Any) -> datetime | None:
    """Milliseconds since 1970 (HubSpot, Salesforce CDC), number or numeric text."""
    return _epoch(value, 1000, "epoch milliseconds")


def parse_epoch_s(value: Any) -> datetime | None:
    return _epoch(value, 1, "epoch seconds")


def parse_odata_date(value: Any) -> datetime | None:
    """``/Date(1700000000000)/`` or ``/Date(1700000000000+0800)/`` (SAP OData v2, Kingdee, .NET)."""
    if value is None:
        return None
    match = _ODATA_DATE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueProblem("bad_type", f"expected /Date(milliseconds)/, got {_type_name(value)}")
    moment = parse_epoch_ms(match.group(1))
    assert moment is not None
    offset = match.group(2)
    if offset:
        sign = -1 if offset[0] == "-" else 1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        moment = moment.astimezone(timezone(sign * delta))
    return moment


def _strptime_parser(pattern: str, zone: tzinfo | None) -> Transform:
    if "%z" not in pattern and "%Z" not in pattern and zone is None:
        raise TransformConfigError(
            f"format {pattern!r} has no UTC offset: declare the source's `timezone:` (e.g. Asia/Shanghai) on the mapping or on this step"
        )

    def parse(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return _aware(value, zone, value)
        if not isinstance(value, str) or len(value) > 64:
            raise ValueProblem("bad_type", f"expected a time like {pattern!r}, got {_type_name(value)}")
        try:
            moment = datetime.strptime(value.strip(), pattern)
        except ValueError:
            raise ValueProblem("bad_type", f"expected a time like {pattern!r}, got {_short(value)}") from None
        return _aware(moment, zone, value)

    return parse


def load_timezone(name: Any) -> tzinfo:
    """An IANA zone by name (configuration error when unknown)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # imported lazily: only when a mapping declares one

    if not isinstance(name, str) or not name:
        raise TransformConfigError("timezone must be an IANA name such as Asia/Shanghai or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TransformConfigError(f"unknown timezone {name!r} (use an IANA name such as Asia/Shanghai or UTC)") from None


def _datetime_parser(arg: Any, ctx: BuildContext) -> Transform:
    zone = ctx.timezone
    fmt: Any = "iso8601"
    if isinstance(arg, dict):
        unknown = set(arg) - {"format", "timezone"}
        if unknown:
            raise TransformConfigError(f"unknown option(s) {sorted(unknown)}; expected format, timezone")
        fmt = arg.get("format", "iso8601")
        if "timezone" in arg:
            zone = load_timezone(arg["timezone"])
    elif arg is not None:
        fmt = arg
    if not isinstance(fmt, str):
        raise TransformConfigError(f"format must be one of {', '.join(DATETIME_FORMATS)} or a strptime pattern")
    if fmt == "iso8601":
        return lambda value: parse_iso8601(value, zone)
    if fmt == "epoch_ms":
        return parse_epoch_ms
    if fmt == "epoch_s":
        return parse_epoch_s
    if fmt == "odata_date":
        return parse_odata_date
    if "%" in fmt:
        return _strptime_parser(fmt, zone)
    raise TransformConfigError(
        f"unknown time format {fmt!r}: expected one of {', '.join(DATETIME_FORMATS)} or a pattern like '%Y-%m-%d %H:%M:%S'"
    )


def _build_datetime(arg: Any, ctx: BuildContext) -> Transform:
    return _datetime_parser(arg, ctx)


def _build_date(arg: Any, ctx: BuildContext) -> Transform:
    """A calendar date; text like ``2026-11-01`` needs no time zone."""
    if arg is None or arg == "iso8601":

        def parse_date(value: Any) -> date | None:
            if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
                return value
            if isinstance(value, datetime):
                return value.date()
            if not isinstance(value, str) or len(value) > 40:
                raise ValueProblem("bad_type", f"expected a date, got {_type_name(value)}")
            text = value.strip()
            try:
                return date.fromisoformat(text[:10]) if len(text) >= 10 else date.fromisoformat(text)
            except ValueError:
                raise ValueProblem("bad_type", f"expected a date like 2026-11-01, got {_short(value)}") from None

        return parse_date
    if isinstance(arg, str) and "%" in arg and "%H" not in arg:

        def parse_pattern(value: Any) -> date | None:
            if value is None:
                return None
            if not isinstance(value, str) or len(value) > 64:
                raise ValueProblem("bad_type", f"expected a date like {arg!r}, got {_type_name(value)}")
            try:
                return datetime.strptime(value.strip(), arg).date()
            except ValueError:
                raise ValueProblem("bad_type", f"expected a date like {arg!r}, got {_short(value)}") from None

        return parse_pattern
    to_moment = _datetime_parser(arg, ctx)

    def moment_date(value: Any) -> date | None:
        moment = to_moment(value)
        if moment is None:
            return None
        if ctx.timezone is not None:
            moment = moment.astimezone(ctx.timezone)
        day: date = moment.date()
        return day

    return moment_date


def _build_strftime(arg: Any, ctx: BuildContext) -> Transform:
    """Format a date/time as text, e.g. ``%Y-%m`` for a rebate period (in the mapping's zone)."""
    if not isinstance(arg, str) or "%" not in arg:
        raise TransformConfigError("strftime needs a pattern such as '%Y-%m'")
    zone = ctx.timezone

    def format_moment(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            moment = value.astimezone(zone) if zone is not None and value.tzinfo is not None else value
            return moment.strftime(arg)
        if isinstance(value, date):
            return value.strftime(arg)
        raise ValueProblem("bad_type", f"strftime expects a date or time (add a datetime step first), got {_type_name(value)}")

    return format_moment


# ----------------------------------------------------------------------------- text


def _text_step(name: str, op: Callable[[str], str]) -> Callable[[Any, BuildContext], Transform]:
    def build(arg: Any, ctx: BuildContext) -> Transform:
        def apply(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, str):
                raise ValueProblem("bad_type", f"{name} expects text, got {_type_name(value)}")
            return op(value)

        return apply

    return build


def _build_split(arg: Any, ctx: BuildContext) -> Transform:
    index: int | None = None
    if isinstance(arg, dict):
        unknown = set(arg) - {"separator", "index"}
        if unknown:
            raise TransformConfigError(f"unknown option(s) {sorted(unknown)}; expected separator, index")
        separator = arg.get("separator")
        index = arg.get("index")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            raise TransformConfigError("index must be a whole number")
    else:
        separator = arg
    if not isinstance(separator, str) or not separator:
        raise TransformConfigError('split needs a non-empty separator, e.g. `split: ","`')

    def split(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueProblem("bad_type", f"split expects text, got {_type_name(value)}")
        parts = [part.strip() for part in value.split(separator)]
        if index is None:
            return parts
        return parts[index] if -len(parts) <= index < len(parts) else None

    return split


def _build_concat(arg: Any, ctx: BuildContext) -> Transform:
    """Join a list (several paths, or a split) into text; nulls and empty parts are skipped."""
    separator = "" if arg is None else arg
    if not isinstance(separator, str):
        raise TransformConfigError('concat takes a separator text, e.g. `concat: " "`')

    def concat(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list):
            return to_string(value)
        parts = [to_string(item) for item in value if item is not None]
        joined = separator.join(part for part in parts if part)
        return joined or None

    return concat


# ----------------------------------------------------------------------------- nulls


def _scalar_arg(arg: Any, name: str) -> Any:
    if isinstance(arg, (dict, list)):
        raise TransformConfigError(f"{name} takes a single value (text, number or true/false)")
    if isinstance(arg, float):
        return Decimal(str(arg))
    return arg


def _build_default(arg: Any, ctx: BuildContext) -> Transform:
    """Use ``arg`` when the source sends null or empty text (an absent field stays absent)."""
    fallback = _scalar_arg(arg, "default")
    return lambda value: fallback if value is None or value == "" else value


def _build_required(arg: Any, ctx: BuildContext) -> Transform:
    def required(value: Any) -> Any:
        if value is None or value == "":
            raise ValueProblem("missing_required", "a value is required but the source sent null or empty text")
        return value

    return required


def _build_null_if(arg: Any, ctx: BuildContext) -> Transform:
    """Treat vendor placeholders as null, e.g. Odoo's ``false`` for an empty field."""
    values = arg if isinstance(arg, list) else [arg]
    if any(isinstance(item, (dict, list)) for item in values):
        raise TransformConfigError("null_if takes a value or a list of values")
    markers = [(type(item), item) for item in values]

    def null_if(value: Any) -> Any:
        for kind, marker in markers:
            if type(value) is kind and value == marker:
                return None
        return value

    return null_if


def _build_pick(arg: Any, ctx: BuildContext) -> Transform:
    """Take one item of a list or one key of an object (Odoo many2one ``[id, name]``)."""
    if isinstance(arg, bool) or not isinstance(arg, (int, str)):
        raise TransformConfigError("pick takes a list index (number) or a key (text)")

    def pick(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(arg, int) and isinstance(value, list):
            return value[arg] if -len(value) <= arg < len(value) else None
        if isinstance(arg, str) and isinstance(value, dict):
            return value.get(arg)
        raise ValueProblem("bad_type", f"pick {arg!r} expects {'a list' if isinstance(arg, int) else 'an object'}, got {_type_name(value)}")

    return pick


# ----------------------------------------------------------------------------- numbers


def _number(value: Any) -> Decimal:
    """``to_decimal`` of a value known not to be None."""
    number = to_decimal(value)
    assert number is not None
    return number


def _decimal_arg(arg: Any, name: str) -> Decimal:
    if isinstance(arg, bool) or not isinstance(arg, (int, float, str)):
        raise TransformConfigError(f"{name} must be a number")
    try:
        number = Decimal(str(arg))
    except InvalidOperation:
        raise TransformConfigError(f"{name} must be a number, got {arg!r}") from None
    if not number.is_finite():
        raise TransformConfigError(f"{name} must be a finite number")
    return number


def _build_scale(arg: Any, ctx: BuildContext) -> Transform:
    """Unit scaling in exact decimal: ``{divide: 100}`` turns fen into yuan."""
    if not isinstance(arg, dict) or len(arg) != 1 or next(iter(arg)) not in ("multiply", "divide"):
        raise TransformConfigError("scale takes exactly one of {multiply: n} or {divide: n}")
    ((operation, raw),) = arg.items()
    factor = _decimal_arg(raw, f"scale.{operation}")
    if operation == "divide":
        if factor == 0:
            raise TransformConfigError("scale.divide must not be 0")
        return lambda value: None if value is None else _number(value) / factor
    return lambda value: None if value is None else _number(value) * factor


def _build_round(arg: Any, ctx: BuildContext) -> Transform:
    digits = 2 if arg is None else arg
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 12:
        raise TransformConfigError("round takes the number of decimal places, 0..12")
    quantum = Decimal(1).scaleb(-digits)

    def round_half_up(value: Any) -> Decimal | None:
        if value is None:
            return None
        rounded = _number(value).quantize(quantum, rounding=ROUND_HALF_UP)
        return rounded if rounded else rounded.copy_abs()  # no "-0.00"

    return round_half_up


# ----------------------------------------------------------------------------- contact data

CALLING_CODES = {
    "CN": "86", "HK": "852", "MO": "853", "TW": "886", "US": "1", "CA": "1", "GB": "44", "DE": "49",
    "FR": "33", "IT": "39", "ES": "34", "NL": "31", "CH": "41", "SE": "46", "JP": "81", "KR": "82",
    "SG": "65", "MY": "60", "TH": "66", "VN": "84", "ID": "62", "PH": "63", "IN": "91", "AU": "61",
    "NZ": "64", "BR": "55", "MX": "52", "AE": "971", "SA": "966",
}  # fmt: skip
_PHONE_NOISE = re.compile(r"[\s\-().\u00a0/]")


def _build_phone(arg: Any, ctx: BuildContext) -> Transform:
    """E.164 (``+8613800138000``); national numbers get the default country's calling code."""
    country = arg.get("country") if isinstance(arg, dict) else arg
    if isinstance(arg, dict) and set(arg) - {"country"}:
        raise TransformConfigError("phone takes {country: <ISO code>}")
    if country is None:
        code = None
    elif isinstance(country, str) and country.upper() in CALLING_CODES:
        code = CALLING_CODES[country.upper()]
    else:
        raise TransformConfigError(f"unknown country {country!r} for phone; known: {', '.join(sorted(CALLING_CODES))}")

    def phone(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or len(value) > 40:
            raise ValueProblem("bad_type", f"expected a phone number, got {_type_name(value)}")
        text = _PHONE_NOISE.sub("", value.strip())
        if not text:
            return None
        if text.startswith("+"):
            digits = text[1:]
        elif text.startswith("00"):
            digits = text[2:]
        elif code is None:
            raise ValueProblem("bad_type", f"phone {value!r} has no country code and no default country is declared")
        else:
            national = text[1:] if text.startswith("0") or (code == "1" and len(text) == 11 and text[0] == "1") else text
            digits = code + national
        if not digits.isdigit() or not 8 <= len(digits) <= 15:
            raise ValueProblem("bad_type", f"not a valid phone number: {value!r}")
        return "+" + digits

    return phone


_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


def _build_email(arg: Any, ctx: BuildContext) -> Transform:
    def email(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > 254:
            raise ValueProblem("bad_type", f"expected an e-mail address, got {_type_name(value)}")
        text = value.strip().lower()
        if not text:
            return None
        if not _EMAIL.match(text):
            raise ValueProblem("bad_type", f"not a valid e-mail address: {value!r}")
        return text

    return email


CURRENCY_ALIASES = {
    "RMB": "CNY", "人民币": "CNY", "元": "CNY", "CNH": "CNY", "美元": "USD", "US$": "USD",
    "欧元": "EUR", "€": "EUR", "港币": "HKD", "港元": "HKD", "日元": "JPY", "英镑": "GBP", "£": "GBP",
}  # fmt: skip
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _build_currency(arg: Any, ctx: BuildContext) -> Transform:
    """ISO 4217 code from codes, common names (人民币, RMB) and any ``aliases`` you add."""
    aliases = dict(CURRENCY_ALIASES)
    if arg is not None:
        extra = arg.get("aliases") if isinstance(arg, dict) and set(arg) == {"aliases"} else None
        if not isinstance(extra, dict):
            raise TransformConfigError("currency takes {aliases: {<source code>: <ISO 4217 code>}}")
        for key, target in extra.items():
            if not isinstance(target, str) or not _CURRENCY.match(target):
                raise TransformConfigError(f"alias {key!r} must map to a three-letter ISO 4217 code, got {target!r}")
            aliases[str(key).strip().upper()] = target
    aliases = {key.upper(): value for key, value in aliases.items()}

    def currency(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueProblem("bad_type", f"expected a currency code, got {_type_name(value)}")
        text = value.strip().upper()
        if not text:
            return None
        text = aliases.get(text, text)
        if not _CURRENCY.match(text):
            raise ValueProblem("unknown_value", f"unknown currency {value!r}", "add it under `currency: {aliases: ...}`")
        return text

    return currency


# ----------------------------------------------------------------------------- vocabularies


def vocabulary_key(value: Any) -> str:
    """How source values are compared with map keys: trimmed and case-folded text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().casefold()


@dataclass
class VocabularyMap:
    """A built ``map`` step; ``targets`` is kept so the compiler can check reachability."""

    table: dict[str, Any]
    default: Any
    has_default: bool
    targets: list[Any] = field(default_factory=list)
    hint: str = "add it to this field's `map:`"

    def __call__(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            raise ValueProblem("bad_type", f"expected a single value to look up, got {_type_name(value)}")
        key = value.strip().casefold() if type(value) is str else vocabulary_key(value)
        found = self.table.get(key, _NOT_FOUND)
        if found is not _NOT_FOUND:
            return found
        if self.has_default:
            return self.default
        known = ", ".join(sorted(self.table)[:20])
        raise ValueProblem("unknown_value", f"unknown value {value!r} (known: {known})", self.hint)


_NOT_FOUND = object()


def _build_map(arg: Any, ctx: BuildContext) -> Transform:
    """``map: {Gold: A, 钻石: S}``, or ``map: {values: {...}, default: X}`` to accept others."""
    if not isinstance(arg, dict) or not arg:
        raise TransformConfigError("map takes an object of source value: canonical value")
    has_default = False
    default = None
    values = arg
    if "values" in arg and isinstance(arg["values"], dict):
        unknown = set(arg) - {"values", "default"}
        if unknown:
            raise TransformConfigError(f"unknown option(s) {sorted(unknown)}; expected values, default")
        values, has_default, default = arg["values"], "default" in arg, arg.get("default")
    table: dict[str, Any] = {}
    for key, target in values.items():
        if isinstance(target, (dict, list)):
            raise TransformConfigError(f"map value for {key!r} must be a single value")
        normalised = vocabulary_key(key)
        if normalised in table and table[normalised] != target:
            raise TransformConfigError(f"map keys {key!r} and another key are the same after trimming and case-folding")
        table[normalised] = Decimal(str(target)) if isinstance(target, float) else target
    targets = list(table.values()) + ([default] if has_default and default is not None else [])
    if ctx.allowed_values is not None:
        for target in targets:
            if target is not None and target not in ctx.allowed_values:
                allowed = ", ".join(ctx.allowed_values)
                raise TransformConfigError(
                    f"map target {target!r} is not a value of {ctx.field} (allowed: {allowed}): it can never be stored"
                )
    return VocabularyMap(table, default, has_default, targets)


def _build_code_list(arg: Any, ctx: BuildContext) -> Transform:
    """``code_list: customer_grade``: the shared list's codes of this mapping's system."""
    if not isinstance(arg, str) or not arg:
        raise TransformConfigError("code_list takes the name of a `kind: code_list` file's list, e.g. `code_list: customer_grade`")
    code_list = ctx.code_lists.get(arg)
    if code_list is None:
        known = ", ".join(sorted(ctx.code_lists)) or "none are loaded"
        raise TransformConfigError(f"unknown code list {arg!r} (known: {known})")
    table = code_list.table(ctx.system, vocabulary_key)
    if table is None:
        raise TransformConfigError(f"code list {arg!r} ({code_list.file}) has no codes for system {ctx.system!r}: add them under systems:")
    if ctx.allowed_values is not None:
        for value in code_list.values:
            if value not in ctx.allowed_values:
                allowed = ", ".join(ctx.allowed_values)
                raise TransformConfigError(
                    f"code list value {value!r} is not a value of {ctx.field} (allowed: {allowed}): it can never be stored"
                )
    hint = f"add it under systems.{ctx.system} of code list {arg!r} ({code_list.file})"
    return VocabularyMap(table, None, False, list(code_list.values), hint)


# ----------------------------------------------------------------------------- expressions


def _build_expr(arg: Any, ctx: BuildContext) -> Transform:
    """A computed step: ``value`` is the value so far, e.g. ``value * decimal('1.13')``."""
    if not isinstance(arg, str):
        raise TransformConfigError("expr takes an expression text using `value`")
    try:
        expression = compile_expression(arg, names={"value"})
    except ExpressionError as exc:
        raise TransformConfigError(f"invalid expression: {exc.message}", exc.column) from None

    def evaluate(value: Any) -> Any:
        try:
            return expression({"value": value})
        except EvaluationError as exc:
            raise ValueProblem("expression_error", f"expression {arg!r} failed: {exc}") from None

    return evaluate


# ----------------------------------------------------------------------------- catalog


@dataclass(frozen=True)
class TransformDef:
    name: str
    build: Callable[[Any, BuildContext], Transform]
    summary: str
    argument: dict[str, Any] | None  # JSON Schema of the argument; None = bare name only
    argument_optional: bool = False  # may be written as a bare name too


def _plain(function: Callable[[Any], Any]) -> Callable[[Any, BuildContext], Transform]:
    return lambda arg, ctx: function


_FORMAT_SCHEMA = {
    "anyOf": [
        {"enum": list(DATETIME_FORMATS)},
        {"type": "string", "pattern": "%", "description": "strptime pattern, e.g. %Y-%m-%d %H:%M:%S"},
    ]
}
_TIME_ARG = {
    "anyOf": [
        _FORMAT_SCHEMA,
        {
            "type": "object",
            "properties": {"format": _FORMAT_SCHEMA, "timezone": {"type": "string", "description": "IANA zone"}},
            "additionalProperties": False,
        },
    ]
}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}

CATALOG: dict[str, TransformDef] = {
    item.name: item
    for item in (
        TransformDef("string", _plain(to_string), "Text (numbers become their decimal text), trimmed.", None),
        TransformDef("int", _plain(to_int), "Whole number.", None),
        TransformDef("decimal", _plain(to_decimal), "Exact decimal (money, quantities); never float.", None),
        TransformDef("bool", _plain(to_bool), "true/false from booleans, 1/0, yes/no, 是/否.", None),
        TransformDef(
            "datetime",
            _build_datetime,
            "Timezone-aware time: iso8601 (default), epoch_ms, epoch_s, odata_date (/Date(ms)/) or a strptime "
            "pattern; naive times use the declared timezone.",
            _TIME_ARG,
            True,
        ),
        TransformDef("date", _build_date, "Calendar date (iso8601 or a strptime pattern).", _TIME_ARG, True),
        TransformDef("strftime", _build_strftime, "Format a date/time as text, e.g. '%Y-%m'.", {"type": "string"}),
        TransformDef("trim", _text_step("trim", str.strip), "Remove surrounding spaces.", None),
        TransformDef("lower", _text_step("lower", str.lower), "Lower-case text.", None),
        TransformDef("upper", _text_step("upper", str.upper), "Upper-case text.", None),
        TransformDef(
            "split",
            _build_split,
            "Split text into a list (or take one part with index).",
            {
                "anyOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "properties": {"separator": {"type": "string"}, "index": {"type": "integer"}},
                        "required": ["separator"],
                        "additionalProperties": False,
                    },
                ]
            },
        ),
        TransformDef(
            "concat", _build_concat, "Join a list (e.g. several paths) with a separator; nulls skipped.", {"type": "string"}, True
        ),
        TransformDef("default", _build_default, "Value to use when the source sends null or empty text.", _SCALAR),
        TransformDef("required", _build_required, "Refuse the record when the value is absent, null or empty.", None),
        TransformDef(
            "null_if",
            _build_null_if,
            "Treat these values as null (e.g. Odoo's false).",
            {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]},
        ),
        TransformDef("pick", _build_pick, "One item of a list or key of an object.", {"type": ["integer", "string"]}),
        TransformDef(
            "scale",
            _build_scale,
            "Exact unit scaling: {divide: 100} (fen→yuan) or {multiply: n}.",
            {
                "type": "object",
                "properties": {"multiply": {"type": ["number", "string"]}, "divide": {"type": ["number", "string"]}},
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": False,
            },
        ),
        TransformDef(
            "round", _build_round, "Round half-up to n decimal places (default 2).", {"type": "integer", "minimum": 0, "maximum": 12}, True
        ),
        TransformDef(
            "currency",
            _build_currency,
            "ISO 4217 code; understands RMB/人民币 and your aliases.",
            {
                "type": "object",
                "properties": {"aliases": {"type": "object", "additionalProperties": {"type": "string", "pattern": "^[A-Z]{3}$"}}},
                "additionalProperties": False,
            },
            True,
        ),
        TransformDef(
            "phone",
            _build_phone,
            "E.164 phone number; national numbers use the default country.",
            {
                "anyOf": [
                    {"enum": sorted(CALLING_CODES)},
                    {"type": "object", "properties": {"country": {"enum": sorted(CALLING_CODES)}}, "additionalProperties": False},
                ]
            },
            True,
        ),
        TransformDef("email", _build_email, "Trimmed, lower-case, checked e-mail address.", None),
        TransformDef(
            "map",
            _build_map,
            "Vocabulary: source value → canonical value, compared after trimming and case-folding.",
            {"type": "object", "description": "{source value: canonical value} or {values: {...}, default: x}"},
        ),
        TransformDef(
            "code_list",
            _build_code_list,
            "Vocabulary from a shared code list (kind: code_list) for this mapping's system.",
            {"type": "string", "description": "the code list's name"},
        ),
        TransformDef("expr", _build_expr, "Computed step; `value` is the value so far.", {"type": "string"}),
    )
}
NAMES_REQUIRING_ARGUMENT = frozenset(name for name, item in CATALOG.items() if item.argument is not None and not item.argument_optional)


def build_transform(step: Any, ctx: BuildContext) -> tuple[str, Transform]:
    """One step from a file (``"trim"`` or ``{"scale": {"divide": 100}}``) → (name, function)."""
    if isinstance(step, str):
        name, arg, bare = step, None, True
    elif isinstance(step, dict) and len(step) == 1:
        ((name, arg),) = step.items()
        bare = False
    else:
        raise TransformConfigError("a transform is a name (`- trim`) or a one-key object (`- scale: {divide: 100}`)")
    definition = CATALOG.get(name) if isinstance(name, str) else None
    if definition is None:
        raise TransformConfigError(f"unknown transform {name!r}; available: {', '.join(CATALOG)}")
    if bare and name in NAMES_REQUIRING_ARGUMENT:
        raise TransformConfigError(f"transform {name!r} needs an argument, e.g. `- {name}: ...`")
    if not bare and definition.argument is None and arg is not None:
        raise TransformConfigError(f"transform {name!r} takes no argument: write `- {name}`")
    return name, definition.build(arg, ctx)


def transform_list_schema() -> dict[str, Any]:
    """JSON Schema of a ``transforms:`` list, for editors (names autocomplete, arguments are checked)."""
    bare = [name for name in CATALOG if name not in NAMES_REQUIRING_ARGUMENT]
    with_arg = [
        {
            "type": "object",
            "properties": {item.name: {**item.argument, "description": item.summary}},
            "required": [item.name],
            "additionalProperties": False,
        }
        for item in CATALOG.values()
        if item.argument is not None
    ]
    return {
        "type": "array",
        "items": {"anyOf": [{"enum": bare, "description": "A transform without argument"}, *with_arg]},
        "description": "Steps applied in order: " + "; ".join(f"{n}: {d.summary}" for n, d in CATALOG.items()),
    }
