"""Config versions and the migrations from older go-trader shapes, run by ``load_config``.

The stamp is the integer ``config_version``. This build writes and understands version
:data:`CURRENT_CONFIG_VERSION` (17, the same number as upstream go-trader, whose v17 files load
unchanged). A file stamped from :data:`MIN_MIGRATABLE_VERSION` (12) up to 16 is migrated on
load, in order (each step runs when the file's version is below it):

* v13 - co-located strategy refs: ``open_strategy: "name"`` -> ``{"name", "params"}`` (name
  from ``args[0]`` when missing); ``close_strategies: ["a"]`` / ``close_strategy: "a"`` ->
  refs; the flat per-strategy ``params`` map split, each key a close evaluator reads (table
  :data:`CLOSE_OWNED_KEYS`) going to every close ref of that evaluator, the rest to the open ref.
* v14 - ``allow_shorts: true/false`` -> ``direction: "both"/"long"`` (perps and manual; an
  existing ``direction`` wins); the legacy key is dropped everywhere.
* v15 - canonical close params: ``tiers`` -> ``tp_tiers``, tier ``atr``/``multiple`` ->
  ``atr_multiple``, ``fraction`` -> ``close_fraction``, ``pct`` -> ``profit_pct``; the
  deprecated ``tp_at_pct`` becomes a one-tier ``tiered_tp_pct``.
* v16 - top-level aliases ``user_close_defaults`` -> ``user_defaults.close`` (its
  ``regime_atr`` entry -> ``user_defaults.regime_atr``), ``manual_defaults`` ->
  ``user_defaults.manual``; deprecated chat keys in ``discord``/``telegram``:
  ``spot_channel_id``/``options_channel_id`` -> ``channels.spot``/``channels.options``,
  ``dm_paper_trades``/``dm_live_trades`` -> ``dm_channels["<platform>-paper"|"<platform>"]``.
* v17 - no shape change, only the stamp.

A version-less file (no ``config_version``, or 0) is taken as hand-written in today's shape: the
same steps run, and the file is rewritten only when they changed something. Versions 1-11 are
refused (too old: the steps before v12 are not known here), and so is a version above 17 (a
newer build wrote it). A migrated file is rewritten atomically (temp file in the same directory,
fsync, ``os.replace``) after the original bytes are saved to ``<config>.bak-YYYYmmddTHHMMSSZ``;
when the file cannot be written, the migration is used in memory with one warning line.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared_tools.config import schema
from shared_tools.config.checks import scan
from shared_tools.config.model import ConfigError, infer_platform

__all__ = [
    "CLOSE_OWNED_KEYS",
    "CURRENT_CONFIG_VERSION",
    "MIN_MIGRATABLE_VERSION",
    "atomic_write",
    "migrate",
    "migrate_document",
    "migrated_note",
    "rewrite",
    "save_migrated",
]

CURRENT_CONFIG_VERSION = 17
MIN_MIGRATABLE_VERSION = 12

# The flat-params keys each close evaluator reads (the v13 split). Keys that open strategies
# also use (e.g. zscore_target's ``lookback``) stay on the open ref: their owner is ambiguous.
_TIERS = ("tp_tiers", "tiers", "sl_after")
_REGIME = (*_TIERS, "use_defaults", "trend_regime")
CLOSE_OWNED_KEYS: dict[str, tuple[str, ...]] = {
    "tiered_tp_pct": _TIERS,
    "tiered_tp_atr": _TIERS,
    "tiered_tp_atr_live": (*_TIERS, "atr_source"),
    "tiered_tp_atr_regime": _REGIME,
    "tiered_tp_atr_live_regime": (*_REGIME, "atr_source"),
    "tiered_tp_atr_live_regime_dynamic": (*_REGIME, "atr_source", "regime_confirm_cycles"),
    "trailing_tp_ratchet": ("tp_tiers", "tiers"),
    "trailing_tp_ratchet_regime": ("tp_tiers", "tiers", "trend_regime"),
    "time_stop": ("max_bars",),
    "zscore_target": ("z_target",),
    "atr_stop": ("atr_mult", "atr_source"),
    "avwap_stop": ("buffer_atr_mult", "atr_source"),
    "tp_at_pct": ("pct", "sl_after"),
}
TP_AT_PCT_DEFAULT = 0.03
_TIER_KEYS = {"atr": "atr_multiple", "multiple": "atr_multiple", "fraction": "close_fraction"}
_CHAT_CHANNEL_KEYS = {"spot_channel_id": "spot", "options_channel_id": "options"}
_MAX_VERSION = 1_000_000  # the loader's bound; beyond it the loader reports the value


def migrate(raw: dict) -> tuple[dict, int]:
    """``raw`` in today's shape (a migrated deep copy, or ``raw`` itself when nothing applies)
    and the version it was read as. Raises ConfigError (one line) for a version this build
    cannot migrate. A malformed version is left for the loader to report."""
    version = raw.get("config_version", 0)
    if version is None:
        version = 0
    if isinstance(version, bool) or not isinstance(version, int):
        return raw, -1
    if version == CURRENT_CONFIG_VERSION and any(old in raw for old in _V16_ALIASES):
        doc = copy.deepcopy(raw)  # upstream folds the legacy aliases at any version
        _v16_user_defaults(doc)
        return doc, version
    if version < 0 or version > _MAX_VERSION or version == CURRENT_CONFIG_VERSION:
        return raw, version
    if version > CURRENT_CONFIG_VERSION:
        raise ConfigError(
            [
                f"config_version {version} is newer than this build knows "
                f"({CURRENT_CONFIG_VERSION}); update go-trader (scripts/update.sh) or restore "
                "the config's .bak- backup"
            ]
        )
    if 0 < version < MIN_MIGRATABLE_VERSION:
        raise ConfigError(
            [
                f"config_version {version} is too old to migrate (this build migrates "
                f"{MIN_MIGRATABLE_VERSION}..{CURRENT_CONFIG_VERSION - 1}); load it once with "
                "an older go-trader, or write a new one with `go-trader init`"
            ]
        )
    if scan(raw):
        return raw, version  # too deep or bad numbers: the loader reports them as they are
    doc = copy.deepcopy(raw)
    strategies = [s for s in _list(doc.get("strategies")) if isinstance(s, dict)]
    if version < 13:
        for entry in strategies:
            _v13_refs(entry)
    if version < 14:
        for entry in strategies:
            _v14_direction(entry)
    if version < 15:
        for entry in strategies:
            _v15_close_params(entry)
    if version < 16:
        _v16_user_defaults(doc)
        _v16_chat_keys(doc, strategies)
    _added_defaults(doc, strategies, version)
    if version == 0 and doc == raw:
        return raw, version  # hand-written in today's shape: nothing to do
    doc["config_version"] = CURRENT_CONFIG_VERSION
    return doc, version


def _added_defaults(doc: dict, strategies: list[dict], version: int) -> None:
    """Keys added after ``version`` whose schema row says a migration writes their default in
    (``fill_on_migrate``); a key already present is left as it is. None does today: every key
    added since v12 means "as before" when absent (v17's atr_method defaults to simple)."""
    for key in schema.added_since(version):
        if not key.fill_on_migrate:
            continue
        if key.section == schema.TOP:
            targets = [doc]
        elif key.section == schema.STRATEGY:
            targets = strategies
        else:
            section = doc.get(key.section)
            targets = [section] if isinstance(section, dict) else []
        for target in targets:
            target.setdefault(key.name, copy.deepcopy(key.default))


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _as_ref(value: Any) -> Any:
    """``"name"`` -> ``{"name": "name", "params": {}}``; anything else as it is."""
    return {"name": value, "params": {}} if isinstance(value, str) else value


def _v13_refs(entry: dict) -> None:
    if "open_strategy" in entry:
        entry["open_strategy"] = _as_ref(entry["open_strategy"])
    if "close_strategy" in entry:
        entry["close_strategy"] = _as_ref(entry["close_strategy"])
    if isinstance(entry.get("close_strategies"), list):
        entry["close_strategies"] = [_as_ref(c) for c in entry["close_strategies"]]
    params = entry.get("params")
    if not isinstance(params, dict):
        return
    closes = [c for c in _closes(entry) if isinstance(c.get("params", {}), dict)]
    rest: dict[str, Any] = {}
    for key, value in params.items():
        owners = [c for c in closes if key in CLOSE_OWNED_KEYS.get(str(c.get("name")), ())]
        for ref in owners:
            ref.setdefault("params", {}).setdefault(key, copy.deepcopy(value))
        if not owners:
            rest[key] = value
    open_ref = entry.get("open_strategy")
    if open_ref is None:
        name = _open_name(entry)
        if name is None:  # no open name to hang them on: the loader reports 'params'
            entry["params"] = rest
            return
        open_ref = entry["open_strategy"] = {"name": name, "params": {}}
    if not isinstance(open_ref, dict) or not isinstance(open_ref.get("params", {}), dict):
        entry["params"] = rest  # a malformed ref: leave the rest for the loader to report
        return
    target = open_ref.setdefault("params", {})
    for key, value in rest.items():
        target.setdefault(key, value)
    del entry["params"]


def _closes(entry: dict) -> list[dict]:
    refs = [*_list(entry.get("close_strategies")), entry.get("close_strategy")]
    return [r for r in refs if isinstance(r, dict)]


def _open_name(entry: dict) -> str | None:
    if entry.get("type") == "manual":
        return "hold"
    args = entry.get("args")
    if isinstance(args, list) and args and isinstance(args[0], str) and args[0]:
        return args[0]
    return None


def _v14_direction(entry: dict) -> None:
    legacy = entry.get("allow_shorts")
    if not isinstance(legacy, bool):
        return  # absent, or a bad value the loader reports
    if entry.get("type") in ("perps", "manual") and entry.get("direction") in (None, ""):
        entry["direction"] = "both" if legacy else "long"
    del entry["allow_shorts"]


def _v15_close_params(entry: dict) -> None:
    for ref in _closes(entry):
        params = ref.get("params")
        if not isinstance(params, dict):
            continue
        if ref.get("name") == "tp_at_pct":
            pct = params.get("pct", TP_AT_PCT_DEFAULT)
            new: dict[str, Any] = {"tp_tiers": [{"profit_pct": pct, "close_fraction": 1.0}]}
            if "sl_after" in params:
                new["sl_after"] = params["sl_after"]
            ref["name"], ref["params"] = "tiered_tp_pct", new
            continue
        if "tiers" in params and "tp_tiers" not in params:
            params["tp_tiers"] = params.pop("tiers")
        tiers = params.get("tp_tiers")
        if isinstance(tiers, list):
            pct_key = "profit_pct" if ref.get("name") == "tiered_tp_pct" else "atr_multiple"
            params["tp_tiers"] = [_tier(t, pct_key) for t in tiers]


def _tier(item: Any, pct_key: str) -> Any:
    if not isinstance(item, dict):
        return item
    out = {}
    for key, value in item.items():
        new = "profit_pct" if key == "pct" else _TIER_KEYS.get(key, key)
        if new == "atr_multiple" and pct_key == "profit_pct":
            new = key  # an ATR word on a percent ladder: leave it for the operator to see
        if new in item and new != key:
            new = key  # both spellings present: keep the canonical one, do not overwrite
        out[new] = value
    return out


_V16_ALIASES = {"user_close_defaults": "close", "manual_defaults": "manual"}


def _v16_user_defaults(doc: dict) -> None:
    moves = list(_V16_ALIASES.items())
    if not any(old in doc for old, _ in moves):
        return
    defaults = doc.get("user_defaults", {})
    if not isinstance(defaults, dict):
        return  # the loader reports user_defaults
    for old, new in moves:
        if old not in doc:
            continue
        value = doc.pop(old)
        if old == "user_close_defaults" and isinstance(value, dict) and "regime_atr" in value:
            value = dict(value)
            _put(defaults, "regime_atr", value.pop("regime_atr"), old)
        _put(defaults, new, value, old)
    doc["user_defaults"] = defaults


def _put(section: dict, key: str, value: Any, old: str) -> None:
    if key in section and section[key] != value:
        raise ConfigError(
            [f"{old} and user_defaults.{key} are both set and differ; keep one and remove {old}"]
        )
    section[key] = value


def _v16_chat_keys(doc: dict, strategies: list[dict]) -> None:
    platforms = sorted({p for s in strategies if (p := _platform(s))})
    for transport in ("discord", "telegram"):
        chat = doc.get(transport)
        if not isinstance(chat, dict):
            continue
        for old, key in _CHAT_CHANNEL_KEYS.items():
            if old in chat:
                value = chat.pop(old)
                channels = chat.setdefault("channels", {})
                if isinstance(channels, dict) and value not in (None, ""):
                    channels.setdefault(key, value)
        for old, suffix in (("dm_paper_trades", "-paper"), ("dm_live_trades", "")):
            if old not in chat:
                continue
            value = chat.pop(old)
            dms = chat.setdefault("dm_channels", {})
            if value is True and isinstance(dms, dict):
                for platform in platforms:
                    dms.setdefault(platform + suffix, True)


def _platform(entry: dict) -> str | None:
    """The platform a strategy entry names, else the one its id and type imply."""
    platform, sid, stype = entry.get("platform"), entry.get("id"), entry.get("type")
    if isinstance(platform, str) and platform:
        return platform
    if isinstance(sid, str) and isinstance(stype, str):
        return infer_platform(sid, stype)
    return None


def _backup_path(target: Path, now: datetime) -> Path:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    base = target.with_name(f"{target.name}.bak-{stamp}")
    candidate, n = base, 1
    while candidate.exists():
        candidate = base.with_name(f"{base.name}.{n}")
        n += 1
    return candidate


def atomic_write(path: Path, data: bytes, mode: int = 0o600, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` all or nothing: temp file in the same directory, fsync, then
    ``os.replace`` (or, with ``overwrite=False``, a hard link that fails with FileExistsError
    when ``path`` exists), then fsync the directory: a crash leaves the old file or the new."""
    # tempfile loads shutil, bz2 and lzma (~1 MiB): only writers (migrations, init, the tuner's
    # config write) pay for it, not the supervisor's idle memory
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _fsync_dir(path.parent)


def _link_new(tmp: str, path: Path) -> None:
    """Publish ``tmp`` at ``path`` only if nothing is there (no window for a clobber)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: check, then rename
        if os.path.lexists(path):
            raise FileExistsError(path) from None
        os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_backup(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def rewrite(path: Path, original: bytes, doc: dict, now: datetime | None = None) -> Path:
    """Save ``original`` as a timestamped backup, then atomically replace the file with
    ``doc``. A symlinked config is written through to its target. Returns the backup path."""
    target = path.resolve() if path.is_symlink() else path
    mode = os.stat(target).st_mode & 0o777
    backup = _backup_path(target, now or datetime.now(UTC))
    _write_backup(backup, original, mode)
    try:
        atomic_write(target, _dump(doc), mode)
    except BaseException:
        with contextlib.suppress(OSError):
            backup.unlink()  # the file was not changed: no backup to keep
        raise
    return backup


def _dump(doc: dict) -> bytes:
    """Indented JSON, UTF-8; escaped as ASCII when a string cannot be UTF-8 (a lone surrogate)."""
    try:
        return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    except UnicodeEncodeError:
        return (json.dumps(doc, indent=2) + "\n").encode()


def migrate_document(raw: dict, label: str) -> tuple[dict, int]:
    """:func:`migrate` with the error lines prefixed by ``config <label>:``."""
    try:
        return migrate(raw)
    except ConfigError as exc:
        raise ConfigError([f"config {label}: {line}" for line in exc.lines]) from None


def save_migrated(path: Path, original: bytes, doc: dict, old: int, label: str) -> str:
    """Rewrite a migrated file; the one line to report (done, or kept in memory only)."""
    what = _what(old)
    try:
        backup = rewrite(path, original, doc)
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return (
            f"config {label}: migrated {what} to config_version {CURRENT_CONFIG_VERSION} in "
            f"memory only; cannot rewrite the file ({reason}); give go-trader write access "
            "to save it"
        )
    return (
        f"config {label}: migrated {what} to config_version {CURRENT_CONFIG_VERSION}; "
        f"the original is saved as {backup.name}"
    )


def migrated_note(label: str, old: int) -> str:
    """The line added to load errors found after a migration (the file was left as it was)."""
    what = _what(old)
    return (
        f"config {label}: (the problems above are in the file as migrated from {what} to "
        f"config_version {CURRENT_CONFIG_VERSION}; the file itself was not changed)"
    )


def _what(old: int) -> str:
    if old == CURRENT_CONFIG_VERSION:  # only the legacy aliases were folded
        return f"v{old} with user_close_defaults/manual_defaults"
    return f"v{old}" if old else "a version-less file"
