"""The statistics of an experiment: a two-proportion comparison, the sample-ratio check, a sample size.

Fixed-horizon frequentist tests, because they are what a marketer's tools (and
calculators) speak: the sample size is planned first (:func:`sample_size`), the test is
read once the plan is reached (the report refuses a verdict before). Validated by
simulation in ``tests/experiments/test_simulation.py`` and ``benchmarks/experiments.py``.

scipy is imported inside the functions: this module sits next to assignment, which is on
the render path, and a render must not pay for scipy's import.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

#: a sample-ratio mismatch is flagged below this p-value (the usual, strict threshold)
SRM_ALPHA = 0.001

_PERCENT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*%\s*$")
_POINTS = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*pp\s*$")


def _z(probability: float) -> float:
    """The standard normal quantile (scipy.special, not scipy.stats: a far lighter import)."""
    from scipy.special import ndtri

    return float(ndtri(probability))


def compare(
    control: tuple[int, int], arm: tuple[int, int], confidence: float = 0.95
) -> tuple[float | None, float, float, float]:
    """(lift, diff_low, diff_high, p_value) of ``arm`` = (conversions, n) against ``control``.

    The interval is the Wald interval of the rate difference (unpooled); the p-value is
    the two-sided two-proportion z-test (pooled under the null of no difference).
    """
    from scipy.special import ndtr

    (c_conv, c_n), (a_conv, a_n) = control, arm
    if not c_n or not a_n:
        return None, math.nan, math.nan, math.nan
    p_c, p_a = c_conv / c_n, a_conv / a_n
    lift = (p_a - p_c) / p_c if p_c else None
    z = _z(0.5 + confidence / 2)
    se = math.sqrt(p_a * (1 - p_a) / a_n + p_c * (1 - p_c) / c_n)
    pooled = (a_conv + c_conv) / (a_n + c_n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / a_n + 1 / c_n))
    p_value = 2 * ndtr(-abs(p_a - p_c) / se_pooled) if se_pooled else 1.0
    return lift, p_a - p_c - z * se, p_a - p_c + z * se, float(p_value)


def wilson_interval(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of the rate ``hits / n`` (sensible at 0 or few hits, unlike Wald).

    ``(0.0, 0.0)`` when ``n`` is 0.
    """
    if not n:
        return 0.0, 0.0
    z = _z(0.5 + confidence / 2)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def sample_ratio_mismatch(observed: dict[str, int], expected_shares: dict[str, float]) -> float | None:
    """Chi-square (goodness of fit) p-value of the arm sizes against the configured weights."""
    from scipy.special import chdtrc

    names = [n for n in expected_shares if expected_shares[n] > 0]
    total = sum(observed.get(n, 0) for n in names)
    if total == 0 or len(names) < 2:
        return None
    share_sum = sum(expected_shares[n] for n in names)
    expected = [total * expected_shares[n] / share_sum for n in names]
    statistic = sum((observed.get(n, 0) - e) ** 2 / e for n, e in zip(names, expected, strict=True))
    return float(chdtrc(len(names) - 1, statistic))


@dataclass(frozen=True)
class Plan:
    """What an experiment must be able to detect: ``baseline`` rate, minimum detectable effect, power, alpha."""

    baseline: float
    #: the minimum detectable effect: relative to the baseline (0.1 = +10%) or absolute (0.003 = +0.3 points)
    mde: float
    relative: bool = True
    power: float = 0.8
    alpha: float = 0.05

    @property
    def target(self) -> float:
        """The treated rate the plan is sized to detect."""
        return self.baseline * (1 + self.mde) if self.relative else self.baseline + self.mde

    @property
    def needed(self) -> int:
        """Recipients needed per variant."""
        return sample_size(self.baseline, self.target, self.power, self.alpha)

    def describe(self) -> str:
        """One line a marketer can check: the rates, the kind of MDE, power and alpha."""
        kind, unit = ("relative", "%") if self.relative else ("absolute", " pp")
        effect = f"{kind} MDE {self.mde * 100:.4g}{unit}"
        return (
            f"baseline {self.baseline:.2%} → {self.target:.2%} ({effect}), "
            f"power {self.power:.0%}, alpha {self.alpha:g} two-sided"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "mde": self.mde,
            "mde_kind": "relative" if self.relative else "absolute",
            "target": self.target,
            "power": self.power,
            "alpha": self.alpha,
            "needed_per_variant": self.needed,
        }


def sample_size(baseline: float, target: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """Recipients per variant for a two-sided two-proportion z-test to tell ``baseline`` from ``target``.

    The textbook formula (Fleiss; what Evan Miller's and most calculators use):
    n = (z₁₋α/₂·√(2·p̄(1−p̄)) + z_power·√(p₁(1−p₁)+p₂(1−p₂)))² / (p₂−p₁)², rounded up.
    """
    if not 0 < baseline < 1 or not 0 < target < 1 or baseline == target:
        raise ValueError("the baseline and the target rate must be different rates strictly between 0 and 1")
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise ValueError("power and alpha are probabilities strictly between 0 and 1")
    mean = (baseline + target) / 2
    numerator = _z(1 - alpha / 2) * math.sqrt(2 * mean * (1 - mean)) + _z(power) * math.sqrt(
        baseline * (1 - baseline) + target * (1 - target)
    )
    return math.ceil(numerator**2 / (target - baseline) ** 2)


def parse_rate(value: Any, what: str) -> float:
    """``0.03`` or ``"3%"`` → 0.03; anything else raises ValueError naming ``what``."""
    if isinstance(value, str) and (match := _PERCENT.match(value)):
        rate = float(match.group(1)) / 100
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        rate = float(value)
    else:
        try:
            rate = float(str(value))
        except ValueError:
            raise ValueError(f"{what} is a rate like 0.03 or 3%, not {value!r}") from None
    if not 0 < rate < 1:
        raise ValueError(f"{what} must be between 0 and 1 (exclusive), not {value!r}")
    return rate


def parse_mde(value: Any) -> tuple[float, bool]:
    """``"10%"`` → (0.10, relative); ``"0.3pp"`` → (0.003, absolute). A bare number is ambiguous: refused."""
    text = str(value)
    if match := _PERCENT.match(text):
        mde, relative = float(match.group(1)) / 100, True
    elif match := _POINTS.match(text):
        mde, relative = float(match.group(1)) / 100, False
    else:
        raise ValueError(f"mde {value!r}: say 10% (relative to the baseline) or 0.3pp (absolute percentage points)")
    if mde <= 0:
        raise ValueError(f"mde {value!r} must be positive")
    return mde, relative


def make_plan(baseline: Any, mde: Any, power: Any = 0.8, alpha: Any = 0.05) -> Plan:
    """A :class:`Plan` from user input (CLI or YAML); ValueError with a readable message when it makes no sense."""
    rate = parse_rate(baseline, "baseline")
    effect, relative = parse_mde(mde)
    plan = Plan(rate, effect, relative, parse_rate(power, "power"), parse_rate(alpha, "alpha"))
    if not 0 < plan.target < 1:
        raise ValueError(f"baseline {rate:g} with mde {mde} gives a target rate outside (0, 1)")
    return plan
