"""The one sandboxed Jinja environment family used for templates and rule conditions.

Marketers' templates and rule conditions are data, not code: they run in Jinja's
``ImmutableSandboxedEnvironment``, which blocks attribute escapes and mutation. The
sandbox does not bound *resources* (``'x' * 10**7`` or ``2 ** 100000`` run happily),
so :class:`CappedSandbox` intercepts the operators that can blow up and caps the size
of what they produce.
"""

from __future__ import annotations

import operator
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

#: Largest string/list an operator may produce inside a template or condition.
MAX_OPERATOR_RESULT = 100_000
#: Largest exponent allowed in ``**``; 2 ** 10_000 is already a 3,000-digit number.
MAX_EXPONENT = 1_000


class ResourceLimitError(SecurityError):
    """A template or condition tried to allocate more than the caps allow."""


def _sized(value: Any) -> int:
    if isinstance(value, (str, bytes, list, tuple)):
        return len(value)
    return 1


def _capped_mul(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        if (
            isinstance(seq, (str, bytes, list, tuple))
            and isinstance(count, int)
            and _sized(seq) * max(count, 0) > MAX_OPERATOR_RESULT
        ):
            raise ResourceLimitError(f"repetition would produce more than {MAX_OPERATOR_RESULT:,} items")
    return operator.mul(left, right)


def _capped_pow(left: Any, right: Any) -> Any:
    if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
        raise ResourceLimitError(f"exponent {right!r} is above the cap of {MAX_EXPONENT}")
    return operator.pow(left, right)


def _capped_add(left: Any, right: Any) -> Any:
    if _sized(left) + _sized(right) > MAX_OPERATOR_RESULT and not isinstance(left, (int, float)):
        raise ResourceLimitError(f"concatenation would exceed {MAX_OPERATOR_RESULT:,} items")
    return operator.add(left, right)


class CappedSandbox(ImmutableSandboxedEnvironment):
    """Immutable sandbox whose ``*``, ``**`` and ``+`` are size-capped."""

    intercepted_binops = frozenset(["*", "**", "+"])

    _capped = {"*": _capped_mul, "**": _capped_pow, "+": _capped_add}

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data before methods: `order.items` is the order's items, not dict.items.
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        # `order['items']` on a dict without that key is missing data, not dict.items.
        if type(obj) is dict:
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        capped = self._capped.get(operator_name)
        if capped is not None:
            return capped(left, right)
        return super().call_binop(context, operator_name, left, right)
