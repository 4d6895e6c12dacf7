"""A Jinja sandbox that cannot be made to work too long or to write too much.

Jinja's :class:`~jinja2.sandbox.SandboxedEnvironment` stops a template from reaching Python's
objects, but not from asking for work: ``'a' * 10**9``, ``10 ** (10 ** 7)`` (which Jinja
even computes while compiling) or loops inside loops. Edited templates run at every decision,
so :class:`LimitedEnvironment` bounds every way a template spends time or memory:

- the operators that can grow a value (``*``, ``**``, ``+``, ``%``) are checked before they
  run, and are never computed while compiling;
- every loop item, call and intercepted operator is a step, counted against :class:`Limits`,
  and the clock is read at each one;
- every value written out, inside a ``set`` block or a macro too, and the text of a loop's
  body at each turn, counts towards the output's size;
- a string method or filter that pads, repeats or reformats text (``center``, ``ljust``,
  ``format``, ``indent``, ``batch``...) is not available; ``join`` and ``replace`` are
  measured before they run; ``range`` stops at 1,000 and ``lipsum`` and ``namespace`` (the
  only way to carry a value from one turn of a loop to the next) are gone.

Render only through :func:`render_limited`, which sets the meter the checks read.
"""

from __future__ import annotations

import time
import types
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template, nodes
from jinja2.filters import FILTERS
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context, pass_eval_context
from jinja2.visitor import NodeTransformer


@dataclass(frozen=True)
class Limits:
    """What one render may spend: seconds on the clock, steps, characters written.

    ``value_chars`` bounds any one piece of text or list a template builds; ``digits`` any
    one number it computes.
    """

    seconds: float = 1.0
    steps: int = 5_000
    output_chars: int = 100_000
    value_chars: int = 10_000
    digits: int = 1_000
    range_items: int = 1_000


class LimitExceeded(Exception):
    """A template asked for more than its :class:`Limits`; ``str()`` says so in plain words."""


@dataclass
class _Meter:
    limits: Limits
    deadline: float
    steps: int = 0
    written: int = 0
    started: float = field(default_factory=time.monotonic)

    def step(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > self.limits.steps:
            raise LimitExceeded(
                f"It repeats itself too many times (more than {self.limits.steps:,} steps); "
                "a loop inside a loop is the usual cause."
            )
        if time.monotonic() > self.deadline:
            raise LimitExceeded(
                f"It takes too long to fill in (more than {self.limits.seconds:g} seconds)."
            )

    def write(self, chars: int) -> None:
        self.written += chars
        if self.written > self.limits.output_chars:
            raise LimitExceeded(
                "It would write far too much text "
                f"(more than {self.limits.output_chars:,} characters)."
            )

    def sized(self, size: int) -> None:
        if size > self.limits.value_chars:
            raise LimitExceeded(
                f"It builds a piece of text far too long (over {self.limits.value_chars:,} "
                "characters); multiplying or repeating text is the usual cause."
            )


_METER: ContextVar[_Meter | None] = ContextVar("template_meter", default=None)


def _meter() -> _Meter:
    meter = _METER.get()
    if meter is None:
        raise RuntimeError("a limited template must be rendered through render_limited")
    return meter


@contextmanager
def metered(limits: Limits, deadline: float | None = None) -> Iterator[None]:
    """Count what the renders inside spend against ``limits``; ``deadline`` may be shared.

    Steps and output are counted per :func:`render_limited` call; the deadline (monotonic
    time) is shared, so several renders checked together share one time budget.
    """
    meter = _Meter(limits, deadline if deadline is not None else time.monotonic() + limits.seconds)
    token = _METER.set(meter)
    try:
        yield
    finally:
        _METER.reset(token)


def render_limited(template: Template, context: Mapping[str, Any]) -> str:
    """Render ``template`` within the current :func:`metered` limits.

    :raises LimitExceeded: when the template asks for more than the limits allow.
    :raises RuntimeError: when called outside :func:`metered`.
    """
    meter = _meter()
    meter.steps = 0
    meter.written = 0
    chunks = []
    for chunk in template.generate(context):
        chunks.append(chunk)
        meter.write(len(chunk))
        meter.step(0)
    return "".join(chunks)


def _digits_of(value: int) -> int:
    # bit_length * log10(2), rounded up: the number of decimal digits, without printing it.
    return abs(value).bit_length() * 30103 // 100000 + 1


def _number_too_large(meter: _Meter) -> LimitExceeded:
    return LimitExceeded(
        f"It computes a number far too large (over {meter.limits.digits:,} digits)."
    )


def _is_text(value: Any) -> bool:
    return isinstance(value, str | list | tuple | bytes)


def _check_binop(meter: _Meter, operator: str, left: Any, right: Any) -> None:
    meter.step()
    digits = meter.limits.digits
    numbers = isinstance(left, int) and isinstance(right, int)
    if operator == "**":
        # the result has about digits(left) * right digits
        if numbers and right > 0 and abs(left) > 1 and _digits_of(left) * right > digits:
            raise _number_too_large(meter)
    elif operator == "*":
        if _is_text(left) and isinstance(right, int):
            meter.sized(len(left) * right)
        elif _is_text(right) and isinstance(left, int):
            meter.sized(len(right) * left)
        elif numbers and _digits_of(left) + _digits_of(right) > digits:
            raise _number_too_large(meter)
    elif operator == "+":
        if _is_text(left) and _is_text(right):
            meter.sized(len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        # printf-style formatting can pad to any width; emails have no use for it.
        raise LimitExceeded("It formats text with %, which email templates cannot use.")


#: String methods a template may call; the others pad, repeat or reformat text.
_STRING_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "count",
        "endswith",
        "find",
        "isalnum",
        "isalpha",
        "isdigit",
        "islower",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "lower",
        "lstrip",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
    }
)


def _joined_size(separator: Any, items: list[Any]) -> int:
    return sum(len(str(item)) for item in items) + len(str(separator)) * max(len(items) - 1, 0)


def _replaced_size(text: str, old: Any, new: Any, count: int = -1) -> int:
    times = text.count(str(old)) if old != "" else len(text) + 1
    if count is not None and count >= 0:
        times = min(times, count)
    return len(text) + times * (len(str(new)) - len(str(old)))


def _check_string_call(meter: _Meter, method: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    name = method.__name__
    if name not in _STRING_METHODS:
        raise LimitExceeded(f"It uses {name}(), which email templates cannot use.")
    if name == "join" and args:
        items = list(args[0])
        meter.sized(_joined_size(method.__self__, items))
        return (items, *args[1:])
    if name == "replace" and len(args) >= 2:
        meter.sized(_replaced_size(method.__self__, *args[:3]))
    return args


@pass_context
def _loop(context: Context, iterable: Iterable[Any], body_chars: int) -> Iterator[Any]:
    meter = _meter()
    for item in iterable:
        meter.step()
        meter.write(body_chars)
        yield item


@pass_context
def _out(context: Context, value: Any) -> Any:
    _meter().write(len(str(value)))
    return value


@pass_context
def _concat(context: Context, values: list[Any]) -> Any:
    meter = _meter()
    meter.sized(_joined_size("", values))
    return markup_join(values) if context.eval_ctx.autoescape else str_join(values)


@pass_eval_context
def _join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
    items = list(value)
    if attribute is None:
        _meter().sized(_joined_size(d, items))
    result = FILTERS["join"](eval_ctx, items, d, attribute)
    _meter().sized(len(result))
    return result


@pass_eval_context
def _replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> Any:
    _meter().sized(_replaced_size(str(s), old, new, -1 if count is None else count))
    return FILTERS["replace"](eval_ctx, s, old, new, count)


def _range(*args: int) -> range:
    numbers = range(*args)
    try:
        items = len(numbers)
    except OverflowError:  # more than the machine can count
        items = _meter().limits.range_items + 1
    if items > _meter().limits.range_items:
        raise LimitExceeded(f"It counts to more than {_meter().limits.range_items:,} with range().")
    return numbers


#: Filters that pad, repeat or reformat text to any size, or are random.
_REMOVED_FILTERS = ("batch", "center", "format", "indent", "random", "slice", "wordwrap")


class _Guard(NodeTransformer):
    """Routes loops, written values and ``~`` through the metering filters.

    Filters, unlike names, cannot be redefined by the template, and those taking the
    context are never run while compiling.
    """

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        body_chars = sum(len(data.data) for data in node.find_all(nodes.TemplateData))
        node.iter = nodes.Filter(
            node.iter, "_limited_loop", [nodes.Const(body_chars)], [], None, None
        ).set_lineno(node.lineno)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [
            child
            if isinstance(child, nodes.TemplateData)
            else nodes.Filter(child, "_limited_out", [], [], None, None)
            for child in node.nodes
        ]
        for child in node.nodes:
            # a value's own line, so errors point where it is written
            child.set_lineno(getattr(child, "node", child).lineno or node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(
            nodes.List(node.nodes), "_limited_concat", [], [], None, None
        ).set_lineno(node.lineno)


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with every way to spend time or memory bounded (module doc)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in _REMOVED_FILTERS:
            self.filters.pop(name, None)
        self.filters.update(
            join=_join,
            replace=_replace,
            _limited_loop=_loop,
            _limited_out=_out,
            _limited_concat=_concat,
        )
        self.globals.pop("lipsum", None)
        self.globals.pop("namespace", None)
        self.globals["range"] = _range

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        template = super()._parse(source, name, filename)
        guarded: nodes.Template = _Guard().visit(template)
        return guarded

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(_meter(), operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        meter = _meter()
        meter.step()
        # str's own methods, and Markup's (written in Python) alike
        if isinstance(__obj, types.BuiltinMethodType | types.MethodType) and isinstance(
            getattr(__obj, "__self__", None), str
        ):
            args = _check_string_call(meter, __obj, args)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None

        def refuse(*_args: Any, **_kwargs: Any) -> str:
            raise LimitExceeded("It uses format(), which email templates cannot use.")

        return refuse
