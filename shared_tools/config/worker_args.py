"""The worker side of one ``strategies[]`` entry: its check script, its args and its strategy refs.

Split out of shared_tools/config/strategy.py (which walks the entry key by key): the script
must be a .py file inside shared_scripts/, the args are parsed by the worker's own argv spec
(``shared_tools/check_argv.py``) so the supervisor and the worker agree on them, and
``open_strategy``/``close_strategies`` are a name or ``{"name", "params"}``. Every problem is
appended to the caller's ``errors`` as one line naming the strategy and the key.
"""

from __future__ import annotations

from typing import Any

from shared_tools.check_argv import (
    FLAGS_BY_NAME,
    CheckArgs,
    CheckArgvError,
    flag_hint,
    parse_check_args,
    script_name,
)
from shared_tools.config.checks import (
    ID_PATTERN,
    MAX_PATH_CHARS,
    loads_json,
    scan,
    show_key,
    text_problem,
)
from shared_tools.config.model import StrategyRef, resolve_script
from shared_tools.paths import SCRIPTS_DIR
from shared_tools.text import exc_line, one_line, show

__all__ = ["check_script", "parse_args", "ref"]


def ref(value: object, where: str, key: str, errors: list[str]) -> StrategyRef | None:
    """A strategy ref: a name, or ``{"name", "params"}``; None (with an error) when malformed."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        errors.append(f'{where}: {key} must be a name or {{"name", "params"}}, got {show(value)}')
        return None
    name = value.get("name")
    params = value.get("params", {})
    extra = set(value) - {"name", "params"}
    if extra:
        shown = ", ".join(show_key(k) for k in sorted(extra)[:5])
        errors.append(f"{where}: {key} has unknown key(s) {shown} (use name, params)")
    if not isinstance(name, str) or not ID_PATTERN.fullmatch(name):
        errors.append(f"{where}: {key}.name must match [A-Za-z0-9._-]+, got {show(name)}")
        return None
    if not isinstance(params, dict):
        errors.append(f"{where}: {key}.params must be an object, got {show(params)}")
        return None
    return StrategyRef(name, dict(params))


def check_script(script: object, allow_external: bool, where: str, errors: list[str]) -> None:
    """The script must be an existing .py file inside shared_scripts/ (symlinks followed)."""
    problem = text_problem(script, MAX_PATH_CHARS)
    if problem or not isinstance(script, str):
        errors.append(f"{where}: script {problem}")
        return
    if not script.endswith(".py"):
        errors.append(f"{where}: script must be the path of a .py check script, got {show(script)}")
        return
    try:
        target = resolve_script(script).resolve()
        if not allow_external and not target.is_relative_to(SCRIPTS_DIR.resolve()):
            errors.append(
                f"{where}: script {show(script)} is outside shared_scripts/ (resolves to "
                f'{show(str(target))}); set "allow_external_script": true to run it anyway'
            )
        elif not target.is_file():
            errors.append(
                f"{where}: script {show(script)} not found (looked in {show(str(target))})"
            )
    except (OSError, RuntimeError, ValueError) as exc:
        errors.append(f"{where}: script {show(script)} cannot be checked ({exc_line(exc, 80)})")


def parse_args(
    args: list[str], script: str, where: str, errors: list[str]
) -> tuple[CheckArgs, dict[str, Any] | None]:
    """Parse args by the rules of worker ``script``; returns them and the --params object."""
    if "--" in args:
        errors.append(f"{where}: args must not contain a bare '--'")
        return CheckArgs(), None
    try:
        parsed = parse_check_args(args, script_name(script))
    except CheckArgvError as exc:
        errors.append(f"{where}: args rejected by the worker: {one_line(exc, 160)}")
        return CheckArgs(), None
    for name in parsed.given:
        flag = FLAGS_BY_NAME[name]
        if flag.owner != "config":
            errors.append(f"{where}: args must not set {name} ({flag_hint(flag)})")
    if not (parsed.strategy and parsed.symbol and parsed.timeframe):
        errors.append(f"{where}: args must start with <strategy> <symbol> <timeframe>")
    extra: dict[str, Any] | None = None
    if parsed.params is not None:
        try:
            extra = loads_json(parsed.params)
        except (ValueError, RecursionError) as exc:
            errors.append(f"{where}: --params in args is not valid JSON ({one_line(exc, 100)})")
            return parsed, None
        if not isinstance(extra, dict):
            errors.append(f"{where}: --params in args must be a JSON object, got {show(extra)}")
            return parsed, None
        problems = scan(extra)
        if problems:
            errors.append(f"{where}: --params in args: {problems[0]}")
            return parsed, None
    return parsed, extra
