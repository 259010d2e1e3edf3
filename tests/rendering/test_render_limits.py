"""A template or rule condition cannot hold a worker or take gigabytes: caps, budget, deadline.

Each payload is what a marketer with write access to templates/ or rules/ could write.
Before the limits, each held a worker for minutes or allocated gigabytes; now each is
refused with ``render-limit`` (422) soon after the deadline, or rendered with a fallback.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tailor import Tailor
from tailor.config import ConfigError, Settings
from tailor.email import RenderLimit
from tailor.rendering.environment import make_environment, render_capped
from tailor.rendering.fallbacks import collecting_fallbacks
from tailor.rules.conditions import Condition
from tailor.sandbox import (
    CLOCK_EVERY,
    MAX_OPERATOR_RESULT,
    UNGUARDED,
    RenderTimeLimit,
    ResourceLimitError,
    render_limits,
)

TIMEOUT_MS = 300
#: generous: the machine is shared; what matters is "returns", not "returns fast"
SLACK_S = 3.0


def page(body: str) -> str:
    return "---\nsubject: Hi\n---\n<!doctype html><html><body>\n" + body + "\n</body></html>\n"


def tailor_for(root: Path, tmp_path: Path, rules: dict[str, str] | None = None) -> Tailor:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(exist_ok=True)
    for name, text in (rules or {}).items():
        (rules_dir / name).write_text(text, encoding="utf-8")
    settings = Settings(database_url="").with_values(render_timeout_ms=TIMEOUT_MS)
    return Tailor(root, rules_dir, settings=settings)


def warmed(tailor: Tailor, template: str) -> Tailor:
    """Compile ``template`` and pay the first render's imports, so the timing is the render's own."""
    tailor.compile(template)
    (tailor.templates_dir / "warm.html").write_text(page("<p>warm</p>"), encoding="utf-8")
    tailor.render("warm", profile={"id": "u1"})
    return tailor


#: payloads that run forever (or for hours) without the deadline
SLOW = {
    "nested loops, no output": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "nested loops over a list, no calls": (
        "{% set xs = range(100000)|list %}{% for a in xs %}{% for b in xs %}{% endfor %}{% endfor %}"
    ),
    "loop with a test": "{% for a in range(100000) %}{% for b in range(100000) if b < 0 %}{% endfor %}{% endfor %}",
    "exponential macro recursion": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}"
    ),
    "recursive loop": (
        "{% for x in [1] recursive %}{% for y in range(100000) %}{% endfor %}{{ loop([1, 1]) }}{% endfor %}"
    ),
}

#: payloads that allocate gigabytes without the caps
BIG = {
    "% width": "{{ '%999999999s' % 'x' }}",
    "% precision": "{{ '%.999999999f' % 1.5 }}",
    "% star width": "{{ '%*s' % (999999999, 'x') }}",
    "% many widths": "{{ ('%99999s' * 1000) % ((1,) * 1000) }}",
    "% of a list of references": "{{ '%s' % ([('x' * 1000)] * 99,) ~ '%s' % ([('x' * 1000)] * 99,) }}",
    "~ doubling via namespace": (
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"
    ),
    "~ doubling via macro": (
        "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}{% endmacro %}"
        "{{ d('x', 60) }}"
    ),
    "+ of a list of references": "{{ ([('x' * 90000)] * 1) + [('x' * 90000)] }}",
    "center": "{{ 'x'|center(999999999) }}",
    "indent": "{{ ('a\\n' * 1000)|indent(999999) }}",
    "format": "{{ '%999999999s'|format('x') }}",
    "tojson indent": "{{ {'a': [1, 2]}|tojson(999999999) }}",
    "slice": "{{ [1]|slice(999999999)|list|length }}",
    "batch": "{{ [1]|batch(999999999, 'x')|list|length }}",
    "lipsum": "{{ lipsum(999999) }}",
    "wordwrap": "{{ ('ab ' * 1000)|wordwrap(2, wrapstring='x' * 1000) }}",
    "truncate": "{{ 'x'|truncate(999999999) }}",
    "replace": "{{ ('x' * 100000)|replace('x', 'yy') }}",
    "join of a range": "{{ range(100000)|join('x' * 1000) }}",
    "str.center": "{{ 'x'.center(999999999) }}",
    "str.zfill": "{{ '1'.zfill(999999999) }}",
    "str.format width": "{{ '{:>999999999}'.format('x') }}",
    "str.format nested width": "{{ '{:>{w}}'.format('x', w=999999999) }}",
    "str.expandtabs": "{{ ('a\\tb' * 100)|string|attr('expandtabs') }}{{ 'a\\tb'.expandtabs(999999999) }}",
    "str.translate": "{{ ('x' * 100000).translate({120: 'y' * 1000}) }}",
    "str.replace": "{{ ('x' * 100000).replace('x', 'yy') }}",
    "str.join": "{{ ('x' * 1000).join(['a'] * 100000) }}",
    "many capped results kept": "{{ range(100000)|map('string')|map('center', 90000)|list|length }}",
    "macro buffer": (
        "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}{% endmacro %}{{ m()|length }}"
    ),
    "set block buffer": (
        "{% set b %}{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}{% endset %}{{ b|length }}"
    ),
    "output": "{% for i in range(3000) %}{{ 'y' * 1000 }}{% endfor %}",
    "nested list literals of references": (
        "{% set b = 'x' * 100000 %}{% set l = [b, b, b, b, b, b, b, b, b] %}"
        "{% set l2 = [l, l, l, l, l, l, l, l, l, l] %}{% set l3 = [l2, l2, l2, l2, l2] %}{{ l3 }}"
    ),
    "nested dict() calls of references": (
        "{% set b = 'x' * 100000 %}{% set d = dict(a=b, b=b, c=b, d=b, e=b, f=b, g=b, h=b, i=b) %}"
        "{% set d2 = dict(a=d, b=d, c=d) %}{{ d2 }}"
    ),
    # one C-level big-int operation never reaches a deadline check: refused from the operands' sizes
    "big int **": "{{ ((9 ** 1000) ** 1000) ** 3 > 0 }}",
    "big int ** of a variable": "{% set x = 9 ** 1000 %}{{ (x ** 1000) ** 10 > 0 }}",
    "big int *": "{% set x = (9 ** 1000) ** 30 %}{{ x * x * x > 0 }}",
    "float ** overflow": "{{ 10.0 ** 400 }}",
    "big int times a float": "{{ (2 ** 1000) ** 3 * 1.5 }}",
    "big int from a filter": "{% set x = ('f' * 99999)|int(base=16) %}{{ x % 7 }}",
    # every filter is capped, not only those with size arguments
    "forceescape chain": "{{ ('&' * 99999)" + "|forceescape" * 20 + "|length }}",
    "urlize": "{{ ('x@y.z ' * 16000)|urlize|length }}",
    "filter results charge the budget": (
        "{% set s = 'a' * 99999 %}{% for i in range(300) %}{% set t = s|upper %}{% endfor %}"
    ),
    "tailor's filters charge the budget": (
        "{% set u = 'https://a.example/' ~ 'x' * 90000 %}{% for i in range(300) %}{% set t = u|utm(a=1) %}{% endfor %}"
    ),
    "nested namespaces": (
        "{% set b = 'x' * 100000 %}{% set n = namespace(a=b, b=b, c=b, d=b, e=b, f=b, g=b, h=b, i=b) %}"
        "{% set n2 = namespace(a=n, b=n, c=n) %}{{ n2 }}"
    ),
}


@pytest.mark.parametrize("name", list(SLOW) + list(BIG))
def test_payload_is_refused_with_render_limit(write_templates, tmp_path, name):
    source = {**SLOW, **BIG}[name]
    tailor = warmed(tailor_for(write_templates({"t.html": page(source)}), tmp_path), "t")
    started = time.monotonic()
    with pytest.raises(RenderLimit) as err:
        tailor.render("t", profile={"id": "u1"})
    elapsed = time.monotonic() - started
    assert err.value.kind == "render-limit" and err.value.status == 422
    assert "'t'" in str(err.value)  # says which template
    if name in SLOW:
        assert f"{TIMEOUT_MS} ms" in str(err.value)  # and which limit
    assert elapsed < TIMEOUT_MS / 1000 + SLACK_S


def test_time_limit_in_a_slot_block_refuses_the_render(write_templates, tmp_path):
    root = write_templates(
        {
            "t.html": page("{% slot 'hero' default='hero/slow' %}"),
            "blocks/hero/slow.html": SLOW["nested loops, no output"],
        }
    )
    with pytest.raises(RenderLimit):
        tailor_for(root, tmp_path).render("t", profile={"id": "u1"})


def test_size_cap_in_a_slot_block_falls_back_to_the_default(write_templates, tmp_path):
    """A block over a size cap is a broken block: the slot's default renders, the fallback says why."""
    rules = {
        "hero.yaml": "slot: hero\ndefault: hero/generic\nrules:\n  - id: big\n    when: true\n    block: hero/big\n"
    }
    root = write_templates(
        {
            "t.html": page("{% slot 'hero' %}"),
            "blocks/hero/generic.html": "<p>generic</p>",
            "blocks/hero/big.html": BIG["center"],
        }
    )
    email = tailor_for(root, tmp_path, rules).render("t", profile={"id": "u1"})
    assert "generic" in email.html and email.blocks["hero"] == "hero/generic"
    (failed,) = [f for f in email.fallbacks if f["reason"] == "block-failed"]
    assert "ResourceLimitError" in failed["detail"] and "center" in failed["detail"]


SLOW_CONDITION = " and ".join(["(range(100000)|map('string')|list|length > 0)"] * 60)


def test_rule_condition_runs_under_the_render_deadline(write_templates, tmp_path):
    rules = {"abort.yaml": f'abort:\n  - id: slow\n    when: "{SLOW_CONDITION}"\n    reason: never\n'}
    tailor = tailor_for(write_templates({"t.html": page("<p>hi</p>")}), tmp_path, rules)
    tailor.compile("t")
    from tailor.experiments import load_experiments  # noqa: F401 - the first render's import, not its time

    started = time.monotonic()
    with pytest.raises(RenderLimit) as err:
        tailor.render("t", profile={"id": "u1"})
    assert "rule conditions" in str(err.value) and f"{TIMEOUT_MS} ms" in str(err.value)
    assert time.monotonic() - started < TIMEOUT_MS / 1000 + SLACK_S


def test_condition_alone_is_bounded_too():
    """Outside a render (tailor check's examples, QA tools) a condition gets a deadline of its own."""
    with render_limits(100), pytest.raises(RenderTimeLimit):
        Condition(SLOW_CONDITION).evaluate({})
    outcome = Condition("('x' * 10) | center(999999999) == 'x'").evaluate({})
    assert not outcome.matched and "ResourceLimitError" in outcome.detail["error"]


def test_deadline_checks_loop_iterations_without_calls():
    """No call, no output inside the inner loop: only the per-iteration check can stop it."""
    env = make_environment(None, autoescape=True)
    template = env.from_string("{% for a in xs %}{% for b in xs %}{% endfor %}{% endfor %}")
    started = time.monotonic()
    with render_limits(100), pytest.raises(RenderTimeLimit):
        render_capped(template, {"xs": list(range(100_000))})
    assert time.monotonic() - started < 0.1 + SLACK_S


def test_filter_calls_past_the_deadline_stop_within_clock_every_calls():
    """The clock is read every CLOCK_EVERY filter calls, not never: a render past its deadline stops."""
    env = make_environment(None, autoescape=True)
    calls = "".join("{{ x | upper }}" for _ in range(CLOCK_EVERY + 1))
    template = env.from_string(calls)
    with render_limits(1000) as limits:
        assert render_capped(template, {"x": "a"}) == "A" * (CLOCK_EVERY + 1)
        limits.deadline = time.monotonic() - 1  # the render's time is spent
        with pytest.raises(RenderTimeLimit):
            render_capped(template, {"x": "a"})


def test_parts_of_one_render_charge_its_budget():
    """Every part rendered under a running render's limits charges that render's budget (no scope of its own)."""
    env = make_environment(None, autoescape=True)
    template = env.from_string("{% set x %}{{ 'ab' * 10 }}{% endset %}{{ x }}")  # 20 by `*`, 20 by the set block
    with render_limits(1000) as limits:
        before = limits.chars_left
        assert render_capped(template, {}) == "ab" * 10
        assert render_capped(template, {}) == "ab" * 10
        assert before - limits.chars_left == 80
        limits.chars_left = 30  # the render's budget is nearly spent
        with pytest.raises(ResourceLimitError, match="in total"):
            render_capped(template, {})


@pytest.mark.parametrize("name", list(BIG))
def test_caps_hold_outside_tailor_render(name):
    """The caps are the sandbox's: any render through it (naive pipeline, previews) has them."""
    env = make_environment(None, autoescape=True)
    with pytest.raises(ResourceLimitError):
        render_capped(env.from_string(BIG[name]), {})


def test_ordinary_uses_of_the_capped_operations_still_work():
    env = make_environment(None, autoescape=True)
    source = (
        "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 'a' ~ 'b' }} {{ 1 + 2 }} {{ '%05.1f' % 3.14159 }} {{ '%s-%s' % ('a', 'b') }} "
        "{{ '{:>4}'.format('x') }} {{ [1, 2, 3]|join(',') }} {{ range(3)|map('string')|join('-') }} "
        "{{ 'x'|center(5) }}|{{ [1, 2, 3, 4]|batch(2)|list }} {{ [1, 2, 3]|slice(2)|list }} "
        "{{ 'hello world'|truncate(8, leeway=0) }} {{ 'a-b'|replace('-', '+') }} {{ 'a\nb'|indent(2) }} "
        "{{ {'k': 1}|tojson(2) }} {{ '%(n)s' % {'n': 1} }} {{ 'n'.zfill(3) }} {{ '%d items'|format(3) }} "
        "{% macro m() %}macro{% endmacro %}{{ m() }} {% set b %}block{% endset %}{{ b }}"
    )
    assert render_capped(env.from_string(source), {}) == (
        "ababab 1024 ab 3 003.1 a-b    x 1,2,3 0-1-2   x  |[[1, 2], [3, 4]] [[1, 2], [3]] hello... a+b a\n  b "
        '{\n  "k": 1\n} 1 00n 3 items macro block'
    )
    assert len(render_capped(env.from_string("{{ 'x' * n }}"), {"n": MAX_OPERATOR_RESULT})) == MAX_OPERATOR_RESULT
    assert len(render_capped(env.from_string("{{ lipsum(3, html=False) }}"), {})) > 0


def test_ordinary_arithmetic_and_uncapped_filters_still_work():
    env = make_environment(None, autoescape=True)
    source = (
        "{{ 19.99 * 3 }} {{ 2 ** 0.5 }} {{ (2 ** 100) * (3 ** 50) }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** -1 }} "
        "{{ 1.5 ** 2 }} {{ '<a>'|forceescape }} {{ 'www.example.com'|urlize }} {{ 3 is odd }} {{ 'ab'|upper }}"
    )
    assert render_capped(env.from_string(source), {}) == (
        "59.97 1.4142135623730951 910043815000214977332758527534256632492715260325658624 3 1 0.5 2.25 &lt;a&gt; "
        '<a href="https://www.example.com" rel="noopener">www.example.com</a> True AB'
    )
    # a long value a filter only copies is not refused: the budget, not the cap, bounds copies
    assert render_capped(env.from_string("{{ s|upper|length }}"), {"s": "a" * 500_000}) == "500000"


def test_every_filter_and_test_is_guarded_including_tailors_own_and_later_additions():
    """A filter added after construction (tailor's FILTERS, a future one) gets the guard too."""
    env = make_environment(None, autoescape=True)
    env.filters["added_later"] = lambda value: value * 5
    env.filters.update(added_by_update=lambda value: value * 5)
    env.tests.setdefault("added_test", lambda value: True)
    env.filters["d"] = lambda value, default="": str(value) * 5  # a replacement of the unguarded default
    unguarded = [
        name
        for table in (env.filters, env.tests)
        for name, func in table.items()
        if not getattr(func, "tailor_guarded", False) and func not in UNGUARDED
    ]
    assert unguarded == [] and "money" in env.filters and "forceescape" in env.filters
    assert sorted(name for name, func in env.filters.items() if func in UNGUARDED) == ["default"]
    for name in ("added_later", "added_by_update", "d"):
        with pytest.raises(ResourceLimitError, match=name):
            render_capped(env.from_string(f"{{{{ ('x' * 90000)|{name}|length }}}}"), {})


def test_big_int_in_a_rule_condition_does_not_hold_the_render(write_templates, tmp_path):
    """Before: 6.9 s in one ``**``. Now refused before computing: the condition is a non-match."""
    rules = {"abort.yaml": 'abort:\n  - id: big\n    when: "((9 ** 1000) ** 1000) ** 10 > 0"\n    reason: never\n'}
    tailor = warmed(tailor_for(write_templates({"t.html": page("<p>hi</p>")}), tmp_path, rules), "t")
    started = time.monotonic()
    email = tailor.render("t", profile={"id": "u1"})
    assert "hi" in email.html  # not aborted: a condition that errs does not match
    assert time.monotonic() - started < TIMEOUT_MS / 1000 + SLACK_S


@pytest.mark.parametrize(
    "value",
    [1e308, -1e308, float("inf"), float("nan"), 10**5000, "1e999999999", "9" * 5000, "abc"],
    ids=["1e308", "-1e308", "inf", "nan", "huge-int", "huge-exponent", "5000-digits", "text"],
)
@pytest.mark.parametrize("expression", ["money", "number", "number(2)", "percent"])
def test_number_filters_never_fail_the_email(write_templates, tmp_path, value, expression):
    root = write_templates({"t.html": page(f"<p>[{{{{ context.price | {expression} }}}}]</p>")})
    email = tailor_for(root, tmp_path).render("t", profile={"id": "u1"}, context={"price": value})
    assert "<p>[]</p>" in email.html
    name = expression.split("(")[0]
    assert any(f["reason"] == "bad-number" and f.get("filter") == name for f in email.fallbacks), email.fallbacks


def test_number_digits_argument_is_capped():
    env = make_environment(None, autoescape=True)
    with collecting_fallbacks() as fallbacks:
        assert render_capped(env.from_string("{{ 1.5 | number(999999999) }}"), {}) == "1.5"
    assert fallbacks[0]["reason"] == "bad-argument" and fallbacks[0]["filter"] == "number"


def test_render_timeout_setting():
    assert Settings().render_timeout_ms == 1000
    assert Settings.load(None, {"TAILOR_RENDER_TIMEOUT_MS": "250"}).render_timeout_ms == 250
    with pytest.raises(ConfigError):
        Settings.load(None, {"TAILOR_RENDER_TIMEOUT_MS": "0"})
    with pytest.raises(ConfigError):
        Settings.load(None, {"TAILOR_RENDER_TIMEOUT_MS": "soon"})
