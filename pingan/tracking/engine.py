"""The tracking engine: fixes in, alert effects out (pure Python + numpy + shapely, no Django).

See ``docs/modules/tracking.md`` for the contract and the definitions (good fix, inside/outside, dwell,
late fix, crossing, lost contact, re-arm). How a batch is evaluated:

1. The fixes are sorted per target by device time. Per target, a fix older than the newest fix already
   evaluated is *late* (evidence only). Candidates for good fixes (GNSS, accuracy ≤ ``max_accuracy_m``)
   are chained to the previous good fix, vectorised; only targets with an impossible jump (implied
   speed over the kind's ``max_speed_kmh``) or a pending run of suspect fixes are chained in Python.
2. One :class:`~pingan.tracking.geometry.ZoneIndex` lookup for the whole batch gives, for every good
   (and late) fix, the zones it is inside or near; pairs whose zone does not apply to the target or
   whose schedule is inactive at the fix's time are dropped, and each zone rule gives its verdicts for
   the remaining rows in one numpy call. Inclusion zones (violated *outside*) add rows for the fixes
   far outside them. Straight segments from the previous good fix are tested against the exclusion zones
   shrunk by the buffer (crossing), again for the whole batch.
3. A target takes the per-fix Python path only when something can change: a row that is not clear, a
   crossing, a schedule starting or ending within its fixes, an open condition or rule state, or a rule
   that sees every fix. Every other target's state is updated with a few vectorised assignments.

Per-target state lives in numpy arrays (one slot per target) plus, for the few targets with open
conditions, a small Python object; :meth:`Engine.export_state` / :meth:`Engine.import_state` turn one
target's into a compact JSON-able dict and back, exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import shapely

from pingan.tracking import geometry as geo
from pingan.tracking import rules as rules_mod
from pingan.tracking.rules import VIOLATING, Rows, Rule, ZoneArrays
from pingan.tracking.schedule import Schedule

__all__ = [
    "STATE_VERSION",
    "Effect",
    "Engine",
    "EngineConfig",
    "FixContext",
    "FixIn",
    "PrevFix",
    "TargetInfo",
    "TargetView",
    "TickContext",
    "ZoneSpec",
    "zone_geometry_lonlat",
]

STATE_VERSION = 1
NEG_INF = -math.inf


# --- the contract's data types -------------------------------------------------------------------


class FixIn(NamedTuple):
    """One stored fix, as the engine sees it. ``ref`` is the stored fix's id; ``fix_type`` is ``gnss``,
    ``cell`` or ``wifi`` (only GNSS fixes can be good); ``accuracy_m`` / ``speed_kmh`` may be None."""

    ref: int
    target: int
    t: float
    lon: float
    lat: float
    accuracy_m: float | None = None
    fix_type: str = "gnss"
    speed_kmh: float | None = None


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """A zone (see the contract): ``kind`` exclusion / inclusion / speed / watch (or an extension's own
    kind), ``shape`` polygon / circle / corridor. It applies to every target when ``targets`` is None and
    ``groups`` is empty, else to the targets listed and to the members of the groups."""

    id: int
    kind: str
    shape: str
    coords: Any
    radius_m: float = 0.0
    width_m: float = 0.0
    ring_m: float = 0.0
    fast: bool = False
    speed_limit_kmh: float | None = None
    speed_duration_s: float = 60.0
    schedule: Schedule | None = None
    targets: frozenset[int] | None = None
    groups: frozenset[int] = frozenset()

    @property
    def applies_to_all(self) -> bool:
        return self.targets is None and not self.groups

    def applies_to(self, target: TargetInfo) -> bool:
        if self.applies_to_all:
            return True
        if self.targets is not None and target.id in self.targets:
            return True
        return bool(self.groups & target.groups)


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """A target as the engine needs it. ``interval_s`` is the expected time between fixes (lost contact
    after ``interval_s × lost_factor``; None: never lost); ``tags`` are free labels for extension rules
    (e.g. ``coach``)."""

    id: int
    kind: str = "person"
    monitored: bool = True
    groups: frozenset[int] = frozenset()
    interval_s: float | None = None
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Effect:
    """What the engine asks the Django side to do. ``kind``: ``raise`` (a new alert), ``evidence`` (more
    fixes for the open one), ``clear`` (re-armed; the rule may raise again). ``zone`` is a zone id or
    None (target-level rules). ``refs`` are fix refs; ``detail`` is JSON-able (``since``: when the
    condition began; ``reason``; ``lon``/``lat`` when no fix is referred to)."""

    kind: str
    target: int
    rule: str
    zone: int | None
    t: float
    refs: tuple[int, ...] = ()
    severity: str = "alarm"
    detail: dict[str, Any] = field(default_factory=dict)


def _default_speeds() -> dict[str, float]:
    return {"person": 200.0, "vehicle": 250.0}


@dataclass(frozen=True)
class EngineConfig:
    """The definitions' numbers (docs/modules/tracking.md)."""

    buffer_m: float = 30.0
    dwell_s: float = 120.0
    min_fixes: int = 2
    rearm_s: float = 300.0
    max_accuracy_m: float = 100.0
    max_speed_kmh: Mapping[str, float] = field(default_factory=_default_speeds)
    default_max_speed_kmh: float = 200.0
    lost_factor: float = 3.0
    #: an open alert gets an ``evidence`` effect at most once per this many seconds of device time …
    evidence_every_s: float = 60.0
    #: … and at most this many in all (0: none); the Django side may cap further
    evidence_max: int = 1000
    #: a ``raise`` carries at most this many refs (the first fixes of the violation)
    raise_refs_max: int = 20
    crossing_max_gap_s: float = 600.0
    crossing_wait_s: float = 600.0
    spike_detour: float = 2.0
    spike_slack_m: float = 50.0
    #: this many consecutive suspect fixes that agree with each other replace the last good fix
    reanchor_fixes: int = 3
    #: the zone index's cell size (None: from the zones' extent, at most 4 million cells)
    index_cell_m: float | None = None

    def max_speed(self, kind: str) -> float:
        return float(self.max_speed_kmh.get(kind, self.default_max_speed_kmh))


def zone_geometry_lonlat(shape: str, coords: Any, *, radius_m: float = 0.0, width_m: float = 0.0) -> Any:
    """The zone's polygon in lon/lat, as the engine builds it (not repaired: check ``is_valid``)."""
    return geo.shape_polygon_lonlat(shape, coords, radius_m=radius_m, width_m=width_m)


class PrevFix(NamedTuple):
    """The previous good fix of a target."""

    t: float
    lon: float
    lat: float
    x: float
    y: float
    accuracy_m: float
    ref: int


# --- per-target state -------------------------------------------------------------------------------


class _Cond:
    """One target × rule × zone condition."""

    __slots__ = ("clear_t", "consec", "ev_n", "ev_t", "open", "raised_t", "refs", "run_n", "run_t")

    def __init__(self) -> None:
        self.run_t: float | None = None
        self.run_n = 0
        self.consec = 0
        self.refs: list[int] = []
        self.open = False
        self.raised_t: float | None = None
        self.clear_t: float | None = None
        self.ev_t = NEG_INF
        self.ev_n = 0

    def dump(self) -> list[Any]:
        return [self.run_t, self.run_n, self.consec, list(self.refs), self.open, self.raised_t, self.clear_t,
                None if self.ev_t == NEG_INF else self.ev_t, self.ev_n]

    @classmethod
    def load(cls, row: Sequence[Any]) -> _Cond:
        c = cls()
        c.run_t, c.run_n, c.consec, refs, c.open, c.raised_t, c.clear_t, ev_t, c.ev_n = row
        c.refs = list(refs)
        c.ev_t = NEG_INF if ev_t is None else float(ev_t)
        c.open = bool(c.open)
        return c


class _TS:
    """The Python part of a target's state: conditions and rule states (absent when both are empty)."""

    __slots__ = ("conds", "rstate")

    def __init__(self) -> None:
        self.conds: dict[tuple[int, int], _Cond] = {}
        self.rstate: dict[int, dict[str, Any]] = {}

    def empty(self) -> bool:
        return not self.conds and not self.rstate


def _uf(value: Any) -> float:
    return NEG_INF if value is None else float(value)


# --- contexts handed to rules ----------------------------------------------------------------------


class TargetView:
    """A read-only look at one target's state (for :meth:`Rule.next_due`)."""

    def __init__(self, engine: Engine, slot: int) -> None:
        self._engine = engine
        self._slot = slot
        self.target: TargetInfo = engine._infos[slot]  # type: ignore[assignment]
        c = float(engine._contact[slot])
        self.contact_t: float | None = c if c > NEG_INF else None
        n = float(engine._newest[slot])
        self.newest_t: float | None = n if n > NEG_INF else None

    def state(self, rule: Rule) -> dict[str, Any]:
        ts = self._engine._ts.get(self._slot)
        return ts.rstate.get(rule.index, {}) if ts else {}

    def is_open(self, rule: Rule, zone: ZoneSpec | None = None) -> bool:
        return self._engine._is_open(self._slot, rule, zone)


class FixContext:
    """What a rule's ``on_fix`` sees: one fix of one target, and the means to act.

    Attributes: ``target`` (TargetInfo), ``fix`` (FixIn), ``t``, ``lon``, ``lat``, ``x``, ``y`` (frame
    metres), ``accuracy_m``, ``good``, ``late``, ``speed_kmh`` (reported, else implied by the previous
    good fix, else None), ``prev`` (the previous good fix or None), ``crossings`` (zones whose shrunk
    polygon the segment from ``prev`` passes, for ``segments`` rules)."""

    __slots__ = ("_effects", "_engine", "_slot", "_ts", "accuracy_m", "crossings", "fix", "good", "lat", "late",
                 "lon", "prev", "speed_kmh", "t", "target", "x", "y")

    def __init__(self, engine: Engine, slot: int, ts: _TS, effects: list[Effect]) -> None:
        self._engine = engine
        self._slot = slot
        self._ts = ts
        self._effects = effects
        self.target: TargetInfo = engine._infos[slot]  # type: ignore[assignment]
        self.fix: FixIn = FixIn(0, self.target.id, 0.0, 0.0, 0.0)
        self.t = self.lon = self.lat = self.x = self.y = self.accuracy_m = 0.0
        self.good = self.late = False
        self.speed_kmh: float | None = None
        self.prev: PrevFix | None = None
        self.crossings: list[ZoneSpec] = []

    def state(self, rule: Rule) -> dict[str, Any]:
        """The rule's JSON-able state for this target (created empty; dropped when left empty)."""
        st = self._ts.rstate.get(rule.index)
        if st is None:
            st = self._ts.rstate[rule.index] = {}
        return st

    def zone(self, zone_id: int) -> ZoneSpec | None:
        return self._engine.zone(zone_id)

    def to_xy(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._engine.frame.to_xy(np.float64(lon), np.float64(lat))
        return float(x), float(y)

    def signed_distance(self, zone: ZoneSpec, x: float, y: float) -> float:
        """Signed distance (frame metres, positive inside) from a point to a zone's border (±inf beyond
        the zone's margin)."""
        return self._engine._signed_distance_one(zone, x, y)

    def inside(self, zone: ZoneSpec, x: float, y: float, accuracy_m: float) -> bool:
        """Whether a point lies inside a zone by the buffer and by its accuracy (the *inside* of the
        definitions)."""
        return self._engine._inside_one(zone, x, y, accuracy_m)

    def segment_crossings(self, ax: float, ay: float, bx: float, by: float) -> list[ZoneSpec]:
        """Zones (applying to this target, active now) whose shrunk polygon the segment A→B passes."""
        return self._engine._segment_crossings_one(self._slot, ax, ay, bx, by, self.t)

    def is_open(self, rule: Rule, zone: ZoneSpec | None = None) -> bool:
        c = self._ts.conds.get((rule.index, self._engine._zkey(zone)))
        return c is not None and c.open

    def observe(self, rule: Rule, zone: ZoneSpec | None, verdict: int, *, dwell_s: float | None = None,
                min_fixes: int | None = None, fast: bool = False, detail: dict[str, Any] | None = None) -> None:
        """Feed this fix's verdict (1 violating, 0 undecided, -1 clear) to the rule's condition: the
        engine's dwell / min_fixes / fast / one-open-alert / evidence / re-arm machinery."""
        cfg = self._engine.config
        self._engine._observe(self._slot, self._ts, rule.index, self._engine._zkey(zone), int(verdict), self.t,
                              self.fix.ref, math.nan, cfg.dwell_s if dwell_s is None else dwell_s,
                              cfg.min_fixes if min_fixes is None else min_fixes, fast, self._effects, detail)

    def raise_alert(self, rule: Rule, zone: ZoneSpec | None = None, *, t: float | None = None,
                    refs: Sequence[int] | None = None, detail: dict[str, Any] | None = None,
                    severity: str | None = None) -> bool:
        """Raise now (no dwell). False, and an ``evidence`` effect instead, when one is open already."""
        return self._engine._raise_direct(self._slot, self._ts, rule, self._engine._zkey(zone),
                                          self.t if t is None else t,
                                          (self.fix.ref,) if refs is None else tuple(refs), detail, severity,
                                          self._effects)

    def clear(self, rule: Rule, zone: ZoneSpec | None = None, *, detail: dict[str, Any] | None = None) -> bool:
        """Close the open condition at once (a ``clear`` effect); False when none is open."""
        return self._engine._clear_direct(self._slot, self._ts, rule.index, self._engine._zkey(zone), self.t,
                                          (self.fix.ref,), detail, self._effects)


class TickContext:
    """What a rule's ``on_tick`` sees: the moment and the targets of this tick."""

    def __init__(self, engine: Engine, now: float, slots: np.ndarray, effects: list[Effect]) -> None:
        self._engine = engine
        self.now = float(now)
        self._slots = slots
        self._effects = effects
        self._scope: set[int] | None = None

    def scope(self) -> set[int]:
        if self._scope is None:
            self._scope = set(self._slots.tolist())
        return self._scope

    def _slot(self, target: int) -> int:
        return self._engine._slot_of[target]

    def _ts(self, slot: int) -> _TS:
        ts = self._engine._ts.get(slot)
        if ts is None:
            ts = self._engine._ts[slot] = _TS()
        return ts

    def targets(self, rule: Rule) -> list[TargetInfo]:
        """The monitored targets of this tick that the rule applies to."""
        e = self._engine
        return [e._infos[s] for s in self._slots.tolist() if rule.index in e._rules_for[s]]  # type: ignore[misc]

    def contacts(self, rule: Rule) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(target ids, last contact time, interval_s) of this tick's targets that the rule applies to and
        that have sent a fix, as arrays."""
        e = self._engine
        s = self._slots
        ok = e._rule_mask[rule.index][s] & (e._contact[s] > NEG_INF) & np.isfinite(e._interval[s])
        s = s[ok]
        return e._ids[s].copy(), e._contact[s].copy(), e._interval[s].copy()

    def with_state(self, rule: Rule) -> list[int]:
        """This tick's targets that hold state for the rule."""
        e = self._engine
        scope = self.scope()
        found = [s for s, ts in e._ts.items() if rule.index in ts.rstate and s in scope]
        return sorted(int(e._ids[s]) for s in found)

    def state(self, target: int, rule: Rule) -> dict[str, Any]:
        ts = self._ts(self._slot(target))
        st = ts.rstate.get(rule.index)
        if st is None:
            st = ts.rstate[rule.index] = {}
        return st

    def zone(self, zone_id: int) -> ZoneSpec | None:
        return self._engine.zone(zone_id)

    def last_good(self, target: int) -> PrevFix | None:
        return self._engine._last_good(self._slot(target))

    def is_open(self, target: int, rule: Rule, zone: ZoneSpec | None = None) -> bool:
        return self._engine._is_open(self._slot(target), rule, zone)

    def raise_alert(self, target: int, rule: Rule, zone: ZoneSpec | None = None, *, t: float | None = None,
                    refs: Sequence[int] = (), detail: dict[str, Any] | None = None,
                    severity: str | None = None) -> bool:
        slot = self._slot(target)
        return self._engine._raise_direct(slot, self._ts(slot), rule, self._engine._zkey(zone),
                                          self.now if t is None else t, tuple(refs), detail, severity,
                                          self._effects)

    def clear(self, target: int, rule: Rule, zone: ZoneSpec | None = None, *, t: float | None = None,
              detail: dict[str, Any] | None = None) -> bool:
        slot = self._slot(target)
        return self._engine._clear_direct(slot, self._ts(slot), rule.index, self._engine._zkey(zone),
                                          self.now if t is None else t, (), detail, self._effects)


# --- the engine ---------------------------------------------------------------------------------------


class Engine:
    """Evaluates fixes against zones and rules (see the module docstring and docs/modules/tracking.md).

    Not thread-safe: one engine per worker thread, or a lock around it."""

    # per-slot arrays (see _alloc): identity, what the target is, and the state
    _ids: np.ndarray
    _mon: np.ndarray
    _always: np.ndarray
    _hot: np.ndarray
    _xidx: np.ndarray
    _gref: np.ndarray
    _sn: np.ndarray
    _gm: np.ndarray
    _maxv: np.ndarray
    _interval: np.ndarray
    _newest: np.ndarray
    _contact: np.ndarray
    _sched: np.ndarray
    _gt: np.ndarray
    _glon: np.ndarray
    _glat: np.ndarray
    _gx: np.ndarray
    _gy: np.ndarray
    _gacc: np.ndarray
    _st: np.ndarray
    _slon: np.ndarray
    _slat: np.ndarray
    _sorted_ids: np.ndarray
    _sorted_slots: np.ndarray
    _abs_off: np.ndarray
    _abs_r: np.ndarray
    _abs_z: np.ndarray

    def __init__(self, zones: Iterable[ZoneSpec] = (), config: EngineConfig | None = None, *,
                 rules: Sequence[type[Rule] | Rule] | None = None) -> None:
        self.config = cfg = config or EngineConfig()
        chosen = rules_mod.registered() if rules is None else list(rules)
        self.rules: list[Rule] = [r if isinstance(r, Rule) else r(cfg) for r in chosen]
        for i, rule in enumerate(self.rules):
            rule.index = i
        self._rule_by_name = {r.name: r for r in self.rules}
        self._far = [r.far_verdict for r in self.rules]
        self._zone_rules = [r for r in self.rules if rules_mod.is_zone_rule(r)]
        self._hook_rules = [r for r in self.rules if type(r).on_fix is not Rule.on_fix]
        self._late_rules = [r for r in self.rules if type(r).on_late_fix is not Rule.on_late_fix]
        self._tick_rules = [r for r in self.rules if type(r).on_tick is not Rule.on_tick]
        self._due_rules = [r for r in self.rules if type(r).next_due is not Rule.next_due]
        self._segment_rules = [r for r in self.rules if r.segments]
        self._hooks_cache: dict[tuple[int, ...], tuple[list[Rule], list[Rule]]] = {}

        all_zones = list(zones)
        self._all_zones: dict[int, ZoneSpec] = {}
        for z in all_zones:
            if z.id in self._all_zones:
                raise ValueError(f"duplicate zone id {z.id}")
            self._all_zones[z.id] = z
        #: zones left out because their shape cannot be built (id → reason); the others still work
        self.skipped_zones: dict[int, str] = {}
        watched: list[ZoneSpec] = []
        polys_ll = []
        for z in all_zones:
            if not any(r.watches(z) for r in self.rules):
                continue
            try:
                poly = geo.zone_polygon_lonlat(z)
            except (ValueError, TypeError, IndexError, KeyError, shapely.errors.ShapelyError) as exc:
                self.skipped_zones[z.id] = f"{type(exc).__name__}: {exc}"
                continue
            if poly.is_empty:
                self.skipped_zones[z.id] = "empty polygon"
                continue
            watched.append(z)
            polys_ll.append(poly)
        self.frame = geo.Frame.around(polys_ll)
        self.zones: list[ZoneSpec] = watched
        self._zindex = {z.id: i for i, z in enumerate(watched)}
        nz = len(watched)
        margins = np.array([max([r.margin_m(z) for r in self.rules if r.watches(z)], default=0.0) + 1.0
                            for z in watched], dtype=np.float64)
        self.index = geo.ZoneIndex([self.frame.geometry_to_xy(p) for p in polys_ll], self.frame, margins_m=margins,
                                   cell_m=cfg.index_cell_m)
        self._za = ZoneArrays(watched)
        self._watch: list[np.ndarray | None] = []
        self._dwell: list[list[float]] = []
        self._fast: list[list[bool]] = []
        for r in self.rules:
            if rules_mod.is_zone_rule(r):
                self._watch.append(np.array([r.watches(z) for z in watched], dtype=bool))
                self._dwell.append([r.dwell_s(z) for z in watched])
                self._fast.append([r.fast(z) for z in watched])
            else:
                self._watch.append(None)
                self._dwell.append([])
                self._fast.append([])
        seg_zones = np.array([i for i, z in enumerate(watched) if any(r.watches(z) for r in self._segment_rules)],
                             dtype=np.int64)
        self._segments = self.index.segment_index(seg_zones, cfg.buffer_m) if seg_zones.size else None
        self._schedules: list[Schedule | None] = [z.schedule for z in watched]
        self._sched_zones = [i for i, z in enumerate(watched) if z.schedule is not None]
        self._sched_arr = np.array(self._sched_zones, dtype=np.int64)
        self._has_sched = np.array([z.schedule is not None for z in watched], dtype=bool)
        # zones whose start-alerting rules all find a good fix far outside clear: a schedule start there
        # can only alert a target whose last good fix lies within the zone's margin
        self._start_far_clear = np.array([all(r.far_verdict == rules_mod.CLEAR for r in self._zone_rules
                                              if r.start_alert and r.watches(z)) for z in watched], dtype=bool)
        # applicability: global zones, group bitmasks, explicit (zone, target) keys
        self._z_global = np.array([z.applies_to_all for z in watched], dtype=bool)
        groups = sorted({g for z in watched for g in z.groups})
        self._gbit = {g: i for i, g in enumerate(groups)}
        self._W = -(-len(groups) // 64)
        self._z_gm = np.zeros((nz, self._W), dtype=np.uint64)
        for i, z in enumerate(watched):
            for g in z.groups:
                b = self._gbit[g]
                self._z_gm[i, b // 64] |= np.uint64(1) << np.uint64(b % 64)
        explicit = sorted({t for z in watched if z.targets for t in z.targets})
        self._xindex = {t: i for i, t in enumerate(explicit)}
        keys = [i * (len(explicit) + 1) + self._xindex[t] for i, z in enumerate(watched) if z.targets for t in z.targets]
        self._x_keys = np.unique(np.array(keys, dtype=np.int64))
        self._x_span = len(explicit) + 1
        # inverse indexes for a target's zones
        self._zones_global = [i for i, z in enumerate(watched) if z.applies_to_all]
        self._zones_by_target: dict[int, list[int]] = {}
        self._zones_by_group: dict[int, list[int]] = {}
        for i, z in enumerate(watched):
            for t in z.targets or ():
                self._zones_by_target.setdefault(t, []).append(i)
            for g in z.groups:
                self._zones_by_group.setdefault(g, []).append(i)
        absence = [[r.index for r in self._zone_rules if r.far_verdict == VIOLATING and r.watches(z)]
                   for z in watched]
        self._abs_global = [(r, i) for i in self._zones_global for r in absence[i]]
        self._abs_by_target = {t: [(r, i) for i in zs for r in absence[i]] for t, zs in self._zones_by_target.items()}
        self._abs_by_group = {g: [(r, i) for i in zs for r in absence[i]] for g, zs in self._zones_by_group.items()}
        self._zone_id_list = [z.id for z in watched]
        extra = [zid for zid in self._all_zones if zid not in self._zindex]
        self._extra_key = {zid: nz + i for i, zid in enumerate(extra)}
        self._extra_id = {nz + i: zid for i, zid in enumerate(extra)}
        self._far_arr = np.array([0 if f is None else f for f in self._far], dtype=np.int8)
        self._flip_a = np.full(nz, math.inf)
        self._flip_b = np.full(nz, -math.inf)
        self._sev = [r.severity for r in self.rules]
        self._names = [r.name for r in self.rules]
        self.stats: dict[str, int] = {"fixes": 0, "unknown_target": 0, "unmonitored": 0, "late": 0, "good": 0,
                                      "python_fixes": 0, "rejected_speed": 0}
        self._alloc(0, 1024)

    # -- slots ---------------------------------------------------------------------------------------

    _SETTING_SLOTS = ("_maxv", "_interval")  # from set_target
    _STATE_SLOTS = ("_newest", "_contact", "_sched", "_gt", "_glon", "_glat", "_gx", "_gy", "_gacc", "_st", "_slon",
                    "_slat")  # cleared by import_state

    def _alloc(self, old: int, cap: int) -> None:
        def grow(name: str, fill: Any, dtype: Any, shape: tuple[int, ...] = ()) -> None:
            new = np.full((cap, *shape), fill, dtype=dtype)
            if old:
                new[:old] = getattr(self, name)[:old]
            setattr(self, name, new)

        grow("_ids", -1, np.int64)
        grow("_mon", False, bool)
        grow("_always", False, bool)
        grow("_hot", False, bool)
        grow("_xidx", -1, np.int64)
        grow("_gref", -1, np.int64)
        grow("_sn", 0, np.int32)
        grow("_gm", 0, np.uint64, (self._W,))
        for name in self._SETTING_SLOTS + self._STATE_SLOTS:
            grow(name, NEG_INF, np.float64)
        masks = getattr(self, "_rule_mask", None)
        self._rule_mask = []
        for i in range(len(self.rules)):
            new = np.zeros(cap, dtype=bool)
            if old and masks is not None:
                new[:old] = masks[i][:old]
            self._rule_mask.append(new)
        if not old:
            self._infos: list[TargetInfo | None] = []
            self._absent: list[tuple[tuple[int, int], ...]] = []
            self._rules_for: list[tuple[int, ...]] = []
            self._slot_of: dict[int, int] = {}
            self._free: list[int] = []
            self._ts: dict[int, _TS] = {}
            self._dirty = True
        self._infos += [None] * (cap - old)
        self._absent += [()] * (cap - old)
        self._rules_for += [()] * (cap - old)
        self._free += list(range(cap - 1, old - 1, -1))
        self._cap = cap

    def _clear_slot(self, s: int) -> None:
        """Forget a slot's state (not the target's settings, which set_target keeps)."""
        for name in self._STATE_SLOTS:
            getattr(self, name)[s] = NEG_INF
        self._gref[s] = -1
        self._sn[s] = 0
        self._hot[s] = False
        self._ts.pop(s, None)

    def set_targets(self, infos: Iterable[TargetInfo]) -> list[Effect]:
        out: list[Effect] = []
        for info in infos:
            out += self.set_target(info)
        return out

    def set_target(self, info: TargetInfo) -> list[Effect]:
        """Add or update a target. When it stops applying to zones with open alerts, those are cleared
        (the returned ``clear`` effects, reason ``not_applicable``); runs in progress are dropped."""
        slot = self._slot_of.get(info.id)
        if slot is None:
            if not self._free:
                self._alloc(self._cap, self._cap * 2)
            slot = self._free.pop()
            self._slot_of[info.id] = slot
            self._ids[slot] = info.id
            self._clear_slot(slot)
            self._dirty = True
        elif self._infos[slot] == info:
            return []
        self._infos[slot] = info
        self._mon[slot] = bool(info.monitored)
        self._maxv[slot] = self.config.max_speed(info.kind)
        self._interval[slot] = float(info.interval_s) if info.interval_s else math.nan
        self._xidx[slot] = self._xindex.get(info.id, -1)
        gm = np.zeros(self._W, dtype=np.uint64)
        for g in info.groups:
            b = self._gbit.get(g)
            if b is not None:
                gm[b // 64] |= np.uint64(1) << np.uint64(b % 64)
        self._gm[slot] = gm
        applying = tuple(r.index for r in self.rules if r.applies(info))
        self._rules_for[slot] = applying
        for i in range(len(self.rules)):
            self._rule_mask[i][slot] = i in applying
        self._always[slot] = any(self.rules[i].every_fix for i in applying)
        pairs = set(self._abs_global)
        pairs.update(self._abs_by_target.get(info.id, ()))
        for g in info.groups:
            pairs.update(self._abs_by_group.get(g, ()))
        self._absent[slot] = tuple(sorted(p for p in pairs if p[0] in applying))
        self._dirty = True
        return self._drop_unapplicable(slot, info)

    def _drop_unapplicable(self, slot: int, info: TargetInfo) -> list[Effect]:
        ts = self._ts.get(slot)
        out: list[Effect] = []
        if ts is None:
            return out
        applying = self._rules_for[slot]
        for key in sorted(ts.conds):
            ri, zi = key
            if ri in applying and (zi < 0 or self.zones[zi].applies_to(info)):
                continue
            c = ts.conds.pop(key)
            if c.open:
                t = float(self._newest[slot])
                out.append(Effect("clear", info.id, self._names[ri], self._zone_id(zi), t if t > NEG_INF else 0.0,
                                  (), self._sev[ri], {"reason": "not_applicable"}))
        self._settle(slot, ts)
        return out

    def forget(self, target: int) -> None:
        """Drop a target and its state from this engine (the caller keeps the exported state)."""
        slot = self._slot_of.pop(target, None)
        if slot is None:
            return
        self._clear_slot(slot)
        self._ids[slot] = -1
        self._mon[slot] = False
        self._always[slot] = False
        self._infos[slot] = None
        self._absent[slot] = ()
        self._rules_for[slot] = ()
        for m in self._rule_mask:
            m[slot] = False
        self._free.append(slot)
        self._dirty = True

    def target(self, target: int) -> TargetInfo | None:
        slot = self._slot_of.get(target)
        return None if slot is None else self._infos[slot]

    def zone(self, zone_id: int) -> ZoneSpec | None:
        return self._all_zones.get(zone_id)

    def _refresh(self) -> None:
        if not self._dirty:
            return
        ids = np.array(list(self._slot_of.keys()), dtype=np.int64)
        slots = np.array(list(self._slot_of.values()), dtype=np.int64)
        order = np.argsort(ids)
        self._sorted_ids, self._sorted_slots = ids[order], slots[order]
        counts = np.array([len(a) for a in self._absent], dtype=np.int64)
        self._abs_off = np.zeros(self._cap + 1, dtype=np.int64)
        np.cumsum(counts, out=self._abs_off[1:])
        flat = [p for a in self._absent for p in a]
        self._abs_r = np.array([p[0] for p in flat], dtype=np.int64)
        self._abs_z = np.array([p[1] for p in flat], dtype=np.int64)
        self._dirty = False

    def _slots_for(self, ids: np.ndarray) -> np.ndarray:
        if not self._sorted_ids.size:
            return np.full(ids.size, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._sorted_ids, ids), self._sorted_ids.size - 1)
        return np.where(self._sorted_ids[pos] == ids, self._sorted_slots[pos], -1)

    def _applies(self, slots: np.ndarray, zi: np.ndarray) -> np.ndarray:
        """Whether zone ``zi[i]`` applies to the target in ``slots[i]`` (vectorised)."""
        ok = self._z_global[zi]
        if self._W:
            if self._W == 1:
                ok = ok | ((self._gm[slots, 0] & self._z_gm[zi, 0]) != 0)
            else:
                ok = ok | np.any((self._gm[slots] & self._z_gm[zi]) != 0, axis=1)
        if self._x_keys.size:
            x = self._xidx[slots]
            keys = zi * self._x_span + x
            pos = np.minimum(np.searchsorted(self._x_keys, keys), self._x_keys.size - 1)
            ok = ok | ((x >= 0) & (self._x_keys[pos] == keys))
        return ok

    def _hooks_for(self, applying: tuple[int, ...]) -> tuple[list[Rule], list[Rule]]:
        hit = self._hooks_cache.get(applying)
        if hit is None:
            hit = self._hooks_cache[applying] = ([r for r in self._hook_rules if r.index in applying],
                                                 [r for r in self._late_rules if r.index in applying])
        return hit

    def _zkey(self, zone: ZoneSpec | None) -> int:
        if zone is None:
            return -1
        zi = self._zindex.get(zone.id)
        if zi is None:  # a zone no rule of this engine watches: a key of its own past the watched ones
            zi = self._extra_key.get(zone.id)
            if zi is None:
                raise KeyError(f"zone {zone.id} is not one of this engine's zones")
        return zi

    def _zone_id(self, zi: int) -> int | None:
        if zi < 0:
            return None
        if zi < len(self.zones):
            return self._zone_id_list[zi]
        return self._extra_id[zi]

    # -- conditions ----------------------------------------------------------------------------------

    def _settle(self, slot: int, ts: _TS) -> None:
        for k in [k for k, v in ts.rstate.items() if not v]:
            del ts.rstate[k]
        if ts.empty():
            self._ts.pop(slot, None)
            self._hot[slot] = False
        else:
            self._ts[slot] = ts
            self._hot[slot] = True

    def _is_open(self, slot: int, rule: Rule, zone: ZoneSpec | None) -> bool:
        ts = self._ts.get(slot)
        if ts is None:
            return False
        c = ts.conds.get((rule.index, self._zkey(zone)))
        return c is not None and c.open

    def _last_good(self, slot: int) -> PrevFix | None:
        t = float(self._gt[slot])
        if t == NEG_INF:
            return None
        return PrevFix(t, float(self._glon[slot]), float(self._glat[slot]), float(self._gx[slot]),
                       float(self._gy[slot]), float(self._gacc[slot]), int(self._gref[slot]))

    def _observe(self, slot: int, ts: _TS, ri: int, zi: int, v: int, t: float, ref: int, d: float, dwell: float,
                 min_fixes: int, fast: bool, out: list[Effect], extra: dict[str, Any] | None = None) -> None:
        """The condition machine for one verdict of one target × rule × zone."""
        conds = ts.conds
        key = (ri, zi)
        c = conds.get(key)
        cfg = self.config
        if v > 0:
            if c is None:
                c = conds[key] = _Cond()
            c.clear_t = None
            if c.open:
                if c.ev_n < cfg.evidence_max and t - c.ev_t >= cfg.evidence_every_s:
                    c.ev_t = t
                    c.ev_n += 1
                    out.append(Effect("evidence", int(self._ids[slot]), self._names[ri], self._zone_id(zi), t, (ref,),
                                      self._sev[ri], {}))
                return
            if c.run_t is None:
                c.run_t, c.run_n, c.consec, c.refs = t, 1, 1, [ref]
            else:
                c.run_n += 1
                c.consec += 1
                if len(c.refs) < cfg.raise_refs_max:
                    c.refs.append(ref)
            by_fast = fast and c.consec >= 2
            if by_fast or (c.run_n >= min_fixes and t - c.run_t >= dwell):
                detail: dict[str, Any] = {"since": c.run_t, "fixes": c.run_n, "reason": "fast" if by_fast else "dwell"}
                if math.isfinite(d):
                    detail["d_m"] = round(d, 1)
                if extra:
                    detail.update(extra)
                out.append(Effect("raise", int(self._ids[slot]), self._names[ri], self._zone_id(zi), t, tuple(c.refs),
                                  self._sev[ri], detail))
                c.open, c.raised_t, c.ev_t, c.ev_n = True, t, t, 0
                c.run_t, c.run_n, c.consec, c.refs = None, 0, 0, []
        elif v < 0:
            if c is None:
                return
            c.run_t, c.run_n, c.consec, c.refs = None, 0, 0, []
            if not c.open:
                del conds[key]
            elif c.clear_t is None:
                c.clear_t = t
            elif t - c.clear_t >= cfg.rearm_s:
                out.append(Effect("clear", int(self._ids[slot]), self._names[ri], self._zone_id(zi), t, (ref,),
                                  self._sev[ri], {"reason": "rearm", "since": c.clear_t}))
                del conds[key]
        elif c is not None:
            c.consec = 0

    def _raise_direct(self, slot: int, ts: _TS, rule: Rule, zi: int, t: float, refs: tuple[int, ...],
                      detail: dict[str, Any] | None, severity: str | None, out: list[Effect]) -> bool:
        key = (rule.index, zi)
        c = ts.conds.get(key)
        if c is None:
            c = ts.conds[key] = _Cond()
        c.clear_t = None
        tid = int(self._ids[slot])
        if c.open:
            if c.ev_n < self.config.evidence_max:
                c.ev_t = max(c.ev_t, t)
                c.ev_n += 1
                out.append(Effect("evidence", tid, rule.name, self._zone_id(zi), t, refs, severity or rule.severity,
                                  {}))
            return False
        out.append(Effect("raise", tid, rule.name, self._zone_id(zi), t, refs, severity or rule.severity,
                          dict(detail or {})))
        c.open, c.raised_t, c.ev_t, c.ev_n = True, t, t, 0
        c.run_t, c.run_n, c.consec, c.refs = None, 0, 0, []
        return True

    def _clear_direct(self, slot: int, ts: _TS, ri: int, zi: int, t: float, refs: tuple[int, ...],
                      detail: dict[str, Any] | None, out: list[Effect]) -> bool:
        c = ts.conds.pop((ri, zi), None)
        if c is None or not c.open:
            return False
        out.append(Effect("clear", int(self._ids[slot]), self._names[ri], self._zone_id(zi), t, refs, self._sev[ri],
                          dict(detail or {})))
        return True

    # -- geometry helpers for one point -----------------------------------------------------------------

    def _signed_distance_one(self, zone: ZoneSpec, x: float, y: float) -> float:
        zi = self._zindex.get(zone.id)
        if zi is None:
            poly = self.frame.geometry_to_xy(geo.zone_polygon_lonlat(zone))
            d = float(shapely.distance(poly.boundary, shapely.Point(x, y)))
            return d if shapely.intersects_xy(poly, x, y) else -d
        return self.index.signed_distance_one(x, y, zi)

    def _inside_one(self, zone: ZoneSpec, x: float, y: float, accuracy_m: float) -> bool:
        zi = self._zindex.get(zone.id)
        if self._segments is not None and zi is not None and accuracy_m <= self.config.buffer_m:
            hit = self._segments.contains(zi, x, y)
            if hit is not None:
                return hit
        return self._signed_distance_one(zone, x, y) >= max(self.config.buffer_m, accuracy_m)

    def _segment_crossings_one(self, slot: int, ax: float, ay: float, bx: float, by: float, t: float) -> list[ZoneSpec]:
        if self._segments is None:
            return []
        _si, zi = self._segments.query(np.array([ax]), np.array([ay]), np.array([bx]), np.array([by]),
                                       keep=lambda k, z: self._applies(np.full(z.size, slot, dtype=np.int64), z))
        out = []
        for z in zi.tolist():
            sch = self._schedules[z]
            if sch is None or sch.active(t):
                out.append(self.zones[z])
        return out

    def _active_mask(self, zi: np.ndarray, t: np.ndarray, lo: float, hi: float) -> np.ndarray:
        """Whether each (zone, time) pair's zone schedule is active then (True for zones without one)."""
        ok = np.ones(zi.size, dtype=bool)
        if not self._sched_zones or not zi.size:
            return ok
        sched = self._has_sched[zi]
        if not sched.any():
            return ok
        rows = np.flatnonzero(sched)
        zs = zi[rows]
        order = np.argsort(zs, kind="stable")
        rows, zs = rows[order], zs[order]
        bounds = np.flatnonzero(np.r_[True, zs[1:] != zs[:-1], True])
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            sch = self._schedules[int(zs[a])]
            assert sch is not None
            nxt = sch.next_change(lo)
            if nxt is None or nxt > hi:
                ok[rows[a:b]] = sch.active(lo)
            else:
                ok[rows[a:b]] = sch.active_many(t[rows[a:b]])
        return ok

    # -- process --------------------------------------------------------------------------------------

    def process(self, fixes: Sequence[FixIn]) -> list[Effect]:
        """Evaluate a batch of fixes (any targets, any order). Returns the effects, per target (by id) in
        device-time order. Fixes of unknown or unmonitored targets are ignored."""
        n = len(fixes)
        if not n:
            return []
        cols = [[f[i] for f in fixes] for i in range(8)]
        return self._process(np.array(cols[0], dtype=np.int64), np.array(cols[1], dtype=np.int64),
                             np.array(cols[2], dtype=np.float64), np.array(cols[3], dtype=np.float64),
                             np.array(cols[4], dtype=np.float64), np.array(cols[5], dtype=np.float64),
                             np.array(cols[6], dtype=object) == "gnss", np.array(cols[7], dtype=np.float64),
                             fixes.__getitem__)

    def process_columns(self, ref: np.ndarray, target: np.ndarray, t: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                        accuracy_m: np.ndarray, gnss: np.ndarray, speed_kmh: np.ndarray | None = None) -> list[Effect]:
        """:meth:`process` for fixes given as columns (numpy arrays of one length), without a ``FixIn`` per
        fix: ``gnss`` is a bool array (False: a cell fix); a missing accuracy or speed is NaN. The same
        evaluation and effects as :meth:`process` on the same fixes; a rule's ``ctx.fix`` is built from the
        columns (``fix_type`` ``gnss`` or ``cell``; NaN accuracy or speed as None)."""
        ref = np.asarray(ref, dtype=np.int64)
        if not ref.size:
            return []
        tid = np.asarray(target, dtype=np.int64)
        tt = np.asarray(t, dtype=np.float64)
        ln = np.asarray(lon, dtype=np.float64)
        lt = np.asarray(lat, dtype=np.float64)
        acc = np.asarray(accuracy_m, dtype=np.float64)
        gn = np.asarray(gnss, dtype=bool)
        spd = np.full(ref.size, math.nan) if speed_kmh is None else np.asarray(speed_kmh, dtype=np.float64)

        def fix(i: int) -> FixIn:
            a, v = float(acc[i]), float(spd[i])
            return FixIn(int(ref[i]), int(tid[i]), float(tt[i]), float(ln[i]), float(lt[i]), None if a != a else a,
                         "gnss" if gn[i] else "cell", None if v != v else v)

        return self._process(ref, tid, tt, ln, lt, acc, gn, spd, fix)

    def _process(self, ref: np.ndarray, tid: np.ndarray, t_all: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                 acc: np.ndarray, gnss: np.ndarray, spd: np.ndarray, fix_of: Any) -> list[Effect]:
        n = ref.size
        self._refresh()
        slot = self._slots_for(tid)
        known = slot >= 0
        keep = known & np.isfinite(t_all)
        keep[known] &= self._mon[slot[known]]
        self.stats["fixes"] += n
        self.stats["unknown_target"] += int((~known).sum())
        self.stats["unmonitored"] += int((known & ~keep).sum())
        sel = np.flatnonzero(keep)
        if not sel.size:
            return []
        order = sel[np.lexsort((t_all[sel], slot[sel]))]
        b = _Batch(self, fix_of, order, slot[order], t_all[order], (ref, lon, lat, acc, gnss, spd))
        effects: list[Effect] = []
        hot_slots = b.hot_slots()
        if hot_slots.size:
            b.run_python(hot_slots, effects)
        b.commit()
        return effects

    # -- tick -----------------------------------------------------------------------------------------

    def tick(self, now: float, targets: Iterable[int] | None = None) -> list[Effect]:
        """Time-driven rules at ``now``: schedules that started or ended since each target's last
        evaluation (a start alerts at once the targets whose last good fix is already in violation; an
        end clears their open conditions without raising), lost contact, pending crossings, and the
        rules' own ``on_tick``. ``targets``: only these (default: every monitored target)."""
        self._refresh()
        now = float(now)
        if targets is None:
            slots = np.array(sorted(self._slot_of.values(), key=lambda s: int(self._ids[s])), dtype=np.int64)
        else:
            wanted = sorted({int(t) for t in targets if int(t) in self._slot_of})
            slots = np.array([self._slot_of[t] for t in wanted], dtype=np.int64)
        if slots.size:
            slots = slots[self._mon[slots]]
        effects: list[Effect] = []
        if not slots.size:
            return effects
        self._tick_schedules(now, slots, effects)
        self._sched[slots] = np.maximum(self._sched[slots], now)
        ctx = TickContext(self, now, slots, effects)
        for rule in self._tick_rules:
            rule.on_tick(ctx)
        scope = ctx.scope()
        for s in [s for s in self._ts if s in scope]:
            self._settle(s, self._ts[s])
        return effects

    def _zones_flipping(self, lo: float, hi: float) -> list[int]:
        """Scheduled zones whose schedule flips within (lo, hi] (cached: "no flip in (a, b)" per zone)."""
        zs = self._sched_arr
        need = zs[~((self._flip_a[zs] <= lo) & (hi < self._flip_b[zs]))]
        out = []
        for z in need.tolist():
            sch = self._schedules[z]
            assert sch is not None
            nxt = sch.next_change(lo)
            self._flip_a[z] = lo
            self._flip_b[z] = math.inf if nxt is None else nxt
            if nxt is not None and nxt <= hi:
                out.append(z)
        return out

    def _flips(self, slots: np.ndarray, since: np.ndarray, until: np.ndarray) -> list[tuple[int, float, int, bool]]:
        """Schedule flips of applicable zones for rows (slot, since, until]: per row and zone the first end
        in the interval and, when the zone is active at ``until``, the start of that period if it lies in
        the interval (older flips of a long silence are not replayed). Returns (row, moment, zone, starts)
        sorted by row, then moment."""
        rows, moments, zones, starts = self._flip_arrays(slots, since, until)
        return list(zip(rows.tolist(), moments.tolist(), zones.tolist(), starts.tolist(), strict=True))

    def _flip_arrays(self, slots: np.ndarray, since: np.ndarray,
                     until: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_flips` as arrays (row, moment, zone, starts), sorted by row, moment, starts, zone."""
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        if self._sched_zones and slots.size:
            valid = (since > NEG_INF) & (since < until)
            if valid.any():
                gap = until - since
                for part in (valid & (gap <= 3600.0), valid & (gap > 3600.0)):
                    rows = np.flatnonzero(part)
                    if rows.size:
                        self._flip_part(slots, rows, since[rows], until[rows], parts)
        if not parts:
            e_i = np.zeros(0, dtype=np.int64)
            return e_i, np.zeros(0), e_i, np.zeros(0, dtype=bool)
        r = np.concatenate([p[0] for p in parts])
        m = np.concatenate([p[1] for p in parts])
        z = np.concatenate([p[2] for p in parts])
        b = np.concatenate([p[3] for p in parts])
        order = np.lexsort((z, b, m, r))
        return r[order], m[order], z[order], b[order]

    def _flip_part(self, slots: np.ndarray, rows: np.ndarray, sv: np.ndarray, uv: np.ndarray,
                   parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> None:
        lo, hi = float(sv.min()), float(uv.max())
        for z in self._zones_flipping(lo, hi):
            sch = self._schedules[z]
            assert sch is not None
            changes = sch.changes(lo, hi)
            ends = np.array([m for m, st in changes if not st], dtype=np.float64)
            starts = np.array([m for m, st in changes if st], dtype=np.float64)
            found: list[tuple[np.ndarray, np.ndarray, bool]] = []
            last_end = np.full(rows.size, NEG_INF)
            if ends.size:
                i = np.searchsorted(ends, sv, side="right")
                first = ends[np.minimum(i, ends.size - 1)]
                found.append(((i < ends.size) & (first <= uv), first, False))
                k = np.searchsorted(ends, uv, side="right") - 1
                last_end = np.where(k >= 0, ends[np.maximum(k, 0)], NEG_INF)
            if starts.size:
                k = np.searchsorted(starts, uv, side="right") - 1
                begin = starts[np.maximum(k, 0)]
                found.append(((k >= 0) & (begin > last_end) & (begin > sv), begin, True))
            for has, moment, begins in found:
                if not has.any():
                    continue
                r = rows[has]
                mm = moment[has]
                ok = self._applies(slots[r], np.full(r.size, z, dtype=np.int64))
                n = int(ok.sum())
                if n:
                    parts.append((r[ok], mm[ok], np.full(n, z, dtype=np.int64), np.full(n, begins, dtype=bool)))

    def _tick_schedules(self, now: float, slots: np.ndarray, effects: list[Effect]) -> None:
        flips = self._flips(slots, self._sched[slots], np.full(slots.size, now))
        if not flips:
            return
        by_slot: dict[int, list[tuple[float, int, bool]]] = {}
        for row, moment, z, starts in flips:
            by_slot.setdefault(int(slots[row]), []).append((moment, z, starts))
        for s in sorted(by_slot, key=lambda s: int(self._ids[s])):
            ts = self._ts.get(s) or _TS()
            for moment, z, starts in by_slot[s]:
                self._transition(s, ts, moment, z, starts, self._last_good(s), effects)
            self._settle(s, ts)

    def _transition(self, slot: int, ts: _TS, moment: float, zi: int, starts: bool, last: PrevFix | None,
                    out: list[Effect]) -> None:
        """A zone's schedule starts (alert at once when the last good fix violates) or ends (clear)."""
        tid = int(self._ids[slot])
        if not starts:
            for key in sorted(k for k in ts.conds if k[1] == zi):
                c = ts.conds.pop(key)
                if c.open:
                    out.append(Effect("clear", tid, self._names[key[0]], self._zone_id(zi), moment, (),
                                      self._sev[key[0]], {"reason": "schedule_end"}))
            return
        if last is None:
            return
        applying = self._rules_for[slot]
        d = None
        for rule in self._zone_rules:
            ri = rule.index
            if not rule.start_alert or ri not in applying or not self._watch[ri][zi]:  # type: ignore[index]
                continue
            cond = ts.conds.get((ri, zi))
            if cond is not None and cond.open:
                continue
            if d is None:
                d = self.index.signed_distance_one(last.x, last.y, zi)
            rows = Rows(np.array([zi]), np.array([d]), np.array([last.accuracy_m]), np.array([math.nan]),
                        np.array([last.t]), self._za)
            if int(rule.verdicts(rows)[0]) == VIOLATING:
                self._raise_direct(slot, ts, rule, zi, moment, (last.ref,),
                                   {"since": last.t, "reason": "schedule_start", "lon": last.lon, "lat": last.lat,
                                    **({"d_m": round(d, 1)} if math.isfinite(d) else {})}, None, out)

    # -- state ----------------------------------------------------------------------------------------

    def export_state(self, target: int) -> dict[str, Any]:
        """The target's state as a compact JSON-able dict (see :meth:`import_state`)."""
        s = self._slot_of[target]
        out: dict[str, Any] = {"v": STATE_VERSION}
        for key, arr in (("n", self._newest), ("c", self._contact), ("s", self._sched)):
            value = float(arr[s])
            if value > NEG_INF:
                out[key] = value
        if self._gt[s] > NEG_INF:
            out["g"] = [float(self._gt[s]), float(self._glon[s]), float(self._glat[s]), float(self._gacc[s]),
                        int(self._gref[s])]
        if self._sn[s] > 0:
            out["q"] = [int(self._sn[s]), float(self._st[s]), float(self._slon[s]), float(self._slat[s])]
        ts = self._ts.get(s)
        if ts is not None:
            if ts.conds:
                out["k"] = [[self._names[ri], self._zone_id(zi), *c.dump()] for (ri, zi), c in sorted(ts.conds.items())]
            if ts.rstate:
                out["r"] = {self._names[ri]: st for ri, st in sorted(ts.rstate.items()) if st}
        return out

    def import_state(self, target: int, state: Mapping[str, Any] | None) -> None:
        """Restore a target's state from :meth:`export_state` (None or {}: a fresh target). The target must
        have been set. Conditions of rules or zones this engine does not know are dropped."""
        s = self._slot_of[target]
        self._clear_slot(s)
        if not state:
            return
        version = state.get("v", STATE_VERSION)
        if version != STATE_VERSION:
            raise ValueError(f"engine state version {version} is not {STATE_VERSION}")
        self._newest[s] = _uf(state.get("n"))
        self._contact[s] = _uf(state.get("c"))
        self._sched[s] = _uf(state.get("s"))
        g = state.get("g")
        if g:
            t, lon, lat, acc, ref = g
            x, y = self.frame.to_xy(np.float64(lon), np.float64(lat))
            self._gt[s], self._glon[s], self._glat[s], self._gacc[s], self._gref[s] = t, lon, lat, acc, ref
            self._gx[s], self._gy[s] = x, y
        q = state.get("q")
        if q:
            self._sn[s], self._st[s], self._slon[s], self._slat[s] = int(q[0]), q[1], q[2], q[3]
        ts = _TS()
        for row in state.get("k", ()):
            rule = self._rule_by_name.get(row[0])
            zid = row[1]
            if rule is None or (zid is not None and zid not in self._all_zones):
                continue
            zi = -1 if zid is None else self._zkey(self._all_zones[zid])
            ts.conds[(rule.index, zi)] = _Cond.load(row[2:])
        for name, st in (state.get("r") or {}).items():
            rule = self._rule_by_name.get(name)
            if rule is not None and st:
                ts.rstate[rule.index] = dict(st)
        self._settle(s, ts)

    def next_due(self, target: int) -> float | None:
        """When a tick must look at this target next (lost contact, a pending crossing, the end of a
        schedule while a condition is open, rules' own), or None. Schedule *starts* are not included:
        the caller ticks a zone's targets when its schedule starts (or ticks everyone)."""
        s = self._slot_of[target]
        if not self._mon[s]:
            return None
        view = TargetView(self, s)
        due: list[float] = []
        for rule in self._due_rules:
            if rule.index in self._rules_for[s]:
                d = rule.next_due(view)
                if d is not None:
                    due.append(d)
        ts = self._ts.get(s)
        if ts is not None:
            base = float(self._sched[s])
            for zi in {zi for _ri, zi in ts.conds if 0 <= zi < len(self.zones)}:
                sch = self._schedules[zi]
                if sch is not None and base > NEG_INF:
                    nxt = sch.next_change(base)
                    if nxt is not None:
                        due.append(nxt)
        return min(due) if due else None

    def open_conditions(self, target: int) -> list[tuple[str, int | None]]:
        """(rule, zone id) of the target's open alerts (diagnostics and tests)."""
        ts = self._ts.get(self._slot_of[target])
        if ts is None:
            return []
        return sorted(((self._names[ri], self._zone_id(zi)) for (ri, zi), c in ts.conds.items() if c.open),
                      key=lambda p: (p[0], -1 if p[1] is None else p[1]))


class _Batch:
    """One call of :meth:`Engine.process`: the fixes sorted per target, and what was found about them."""

    def __init__(self, e: Engine, fix_of: Any, order: np.ndarray, s: np.ndarray, tt: np.ndarray,
                 cols: tuple[np.ndarray, ...]) -> None:
        cfg = e.config
        self.e = e
        self.fix_of = fix_of  # input index → FixIn (for rules' contexts)
        self.order = order
        self.m = m = order.size
        self.s = s
        self.tt = tt
        ref, lon, lat, acc, gnss, spd = cols
        self.ref = ref[order]
        self.lon = lon[order]
        self.lat = lat[order]
        self.acc = acc[order]
        self.gnss = gnss[order]
        self.spd = spd[order]
        self.x, self.y = e.frame.to_xy(self.lon, self.lat)
        change = s[1:] != s[:-1]
        self.first = np.r_[True, change]
        self.last = np.r_[change, True]
        self.late = tt < e._newest[s]
        e.stats["late"] += int(self.late.sum())
        ok = self.gnss & (self.acc <= cfg.max_accuracy_m) & np.isfinite(self.x) & np.isfinite(self.y)
        self.cand = ok & ~self.late
        self.late_good = ok & self.late
        self._chain()
        e.stats["good"] += int(self.good.sum())
        self._rows()
        self._crossings()
        starts = np.flatnonzero(self.first)
        ends = np.r_[starts[1:], m]
        self.group_start, self.group_end = starts, ends
        self._schedule_flips()

    def _schedule_flips(self) -> None:
        """Schedule flips between each on-time fix and the one before it (or the target's last evaluation).

        Kept as arrays (``fp`` positions, ``fm`` moments, ``fz`` zones, ``fs`` starts); ``flip_slots`` are the
        targets for which a flip can do something: a start whose target's last good fix before it lies
        within the zone's margin (or a zone some start-alerting rule of which is violated far outside). An
        end only drops conditions, which only targets already on the Python path hold, and a start with the
        last good fix far outside raises nothing, so the other targets stay on the vectorised path."""
        e = self.e
        e_i = np.zeros(0, dtype=np.int64)
        self.fp, self.fm, self.fz, self.fs = e_i, np.zeros(0), e_i, np.zeros(0, dtype=bool)
        self.flip_slots = e_i
        if not e._sched_zones:
            return
        ot = np.flatnonzero(~self.late)
        if not ot.size:
            return
        so = self.s[ot]
        same = np.r_[False, so[1:] == so[:-1]]
        since = np.where(same, self.tt[np.r_[ot[0], ot[:-1]]], NEG_INF)
        since = np.maximum(since, e._sched[so])
        rows, moments, zones, starts = e._flip_arrays(so, since, self.tt[ot])
        if not rows.size:
            return
        self.fp, self.fm, self.fz, self.fs = ot[rows], moments, zones, starts
        k = np.flatnonzero(starts)
        if not k.size:
            return
        p = self.fp[k]
        slot = self.s[p]
        # the last good fix before each start's position: earlier in the batch, else the one in the state
        marks = np.where(self.good, np.arange(self.m), -1)
        before = np.r_[-1, np.maximum.accumulate(marks)[:-1]][p]
        gstart = np.maximum.accumulate(np.where(self.first, np.arange(self.m), 0))[p]
        in_batch = before >= gstart
        bi = np.maximum(before, 0)
        px = np.where(in_batch, self.x[bi], e._gx[slot])
        py = np.where(in_batch, self.y[bi], e._gy[slot])
        has = in_batch | (e._gt[slot] > NEG_INF)
        need = has & ~e._start_far_clear[zones[k]]
        probe = np.flatnonzero(has & ~need)
        if probe.size:
            c = e.index.lookup(px[probe], py[probe])
            near_keys = np.unique(np.concatenate([c.deep_point * len(e.zones) + c.deep_zone,
                                                  c.band_point * len(e.zones) + c.band_zone]))
            keys = np.arange(probe.size) * len(e.zones) + zones[k][probe]
            need[probe] = np.isin(keys, near_keys)
        if need.any():
            self.flip_slots = np.unique(slot[need])

    # chaining good fixes --------------------------------------------------------------------------------

    def _chain(self) -> None:
        with np.errstate(invalid="ignore", divide="ignore"):
            self._chain_arrays()

    def _chain_arrays(self) -> None:
        e = self.e
        m = self.m
        s, tt, x, y = self.s, self.tt, self.x, self.y
        self.good = good = np.zeros(m, dtype=bool)
        self.pv_t = np.full(m, NEG_INF)
        self.pv_x = np.full(m, math.nan)
        self.pv_y = np.full(m, math.nan)
        self.pv_lon = np.full(m, math.nan)
        self.pv_lat = np.full(m, math.nan)
        self.pv_acc = np.full(m, math.nan)
        self.pv_ref = np.full(m, -1, dtype=np.int64)
        ci = np.flatnonzero(self.cand)
        if ci.size:
            cs = s[ci]
            same = np.r_[False, cs[1:] == cs[:-1]]
            prev = np.r_[-1, ci[:-1]]
            pt = np.where(same, tt[prev], e._gt[cs])
            px = np.where(same, x[prev], e._gx[cs])
            py = np.where(same, y[prev], e._gy[cs])
            has = same | (e._gt[cs] > NEG_INF)
            v = np.hypot(x[ci] - px, y[ci] - py) / np.maximum(tt[ci] - pt, 1.0) * 3.6
            bad = has & (v > e._maxv[cs])
            seq = np.unique(np.concatenate([cs[bad], cs[e._sn[cs] > 0]]))
            clean = ~np.isin(cs, seq) if seq.size else np.ones(ci.size, dtype=bool)
            cc = ci[clean]
            good[cc] = True
            self.pv_t[cc] = pt[clean]
            self.pv_x[cc] = px[clean]
            self.pv_y[cc] = py[clean]
            self.pv_lon[cc] = np.where(same, self.lon[prev], e._glon[cs])[clean]
            self.pv_lat[cc] = np.where(same, self.lat[prev], e._glat[cs])[clean]
            self.pv_acc[cc] = np.where(same, self.acc[prev], e._gacc[cs])[clean]
            self.pv_ref[cc] = np.where(same, self.ref[prev], e._gref[cs])[clean]
            if seq.size:
                self._chain_python(ci[~clean])
        dt = np.maximum(tt - self.pv_t, 1.0)
        implied = np.where(self.pv_t > NEG_INF, np.hypot(x - self.pv_x, y - self.pv_y) / dt * 3.6, math.nan)
        self.speed = np.where(np.isfinite(self.spd), self.spd, implied)

    def _chain_python(self, positions: np.ndarray) -> None:
        """Good fixes, one at a time, for targets with an impossible jump or pending suspects."""
        e, cfg = self.e, self.e.config
        s, tt, x, y, lon, lat, acc, ref = (a[positions].tolist() for a in
                                           (self.s, self.tt, self.x, self.y, self.lon, self.lat, self.acc, self.ref))
        cur = -1
        g: tuple[float, float, float, float, float, float, int] | None = None
        sn = 0
        sx = sy = st = slon = slat = 0.0
        maxv = 0.0

        def flush() -> None:
            if cur >= 0:
                e._sn[cur] = sn
                if sn:
                    e._st[cur], e._slon[cur], e._slat[cur] = st, slon, slat

        for k, p in enumerate(positions.tolist()):
            if s[k] != cur:
                flush()
                cur = s[k]
                gt = float(e._gt[cur])
                g = None if gt == NEG_INF else (gt, float(e._gx[cur]), float(e._gy[cur]), float(e._glon[cur]),
                                                float(e._glat[cur]), float(e._gacc[cur]), int(e._gref[cur]))
                sn = int(e._sn[cur])
                if sn:
                    st, slon, slat = float(e._st[cur]), float(e._slon[cur]), float(e._slat[cur])
                    sx, sy = (float(v) for v in e.frame.to_xy(np.float64(slon), np.float64(slat)))
                maxv = float(e._maxv[cur])
            accept = g is None
            if not accept:
                assert g is not None
                v = math.hypot(x[k] - g[1], y[k] - g[2]) / max(tt[k] - g[0], 1.0) * 3.6
                accept = v <= maxv
            if accept:
                sn = 0
            else:
                e.stats["rejected_speed"] += 1
                agrees = sn > 0 and math.hypot(x[k] - sx, y[k] - sy) / max(tt[k] - st, 1.0) * 3.6 <= maxv
                sn = sn + 1 if agrees else 1
                st, sx, sy, slon, slat = tt[k], x[k], y[k], lon[k], lat[k]
                if sn >= cfg.reanchor_fixes:
                    accept, sn = True, 0
            if accept:
                self.good[p] = True
                if g is not None:
                    self.pv_t[p], self.pv_x[p], self.pv_y[p] = g[0], g[1], g[2]
                    self.pv_lon[p], self.pv_lat[p], self.pv_acc[p], self.pv_ref[p] = g[3], g[4], g[5], g[6]
                g = (tt[k], x[k], y[k], lon[k], lat[k], acc[k], ref[k])
        flush()

    # rows: zone verdicts ----------------------------------------------------------------------------------

    def _rows(self) -> None:
        e = self.e
        s, tt = self.s, self.tt
        q = np.flatnonzero(self.good | self.late_good)
        empty_i = np.zeros(0, dtype=np.int64)
        parts_p, parts_r, parts_z, parts_v, parts_d = [], [], [], [], []
        if q.size and len(e.zones):
            c = e.index.lookup(self.x[q], self.y[q])
            dp, dz = q[c.deep_point], c.deep_zone
            keep = e._applies(s[dp], dz)
            dp, dz = dp[keep], dz[keep]
            bp, bz, be = q[c.band_point], c.band_zone, c.band_entry
            keep = e._applies(s[bp], bz)
            bp, bz, be = bp[keep], bz[keep], be[keep]
            bd = e.index.entry_signed_distance(self.x[bp], self.y[bp], be)
            listed = bd > NEG_INF
            P = np.concatenate([dp, bp[listed]])
            Z = np.concatenate([dz, bz[listed]])
            D = np.concatenate([np.full(dp.size, np.inf), bd[listed]])
            lo, hi = float(tt.min()), float(tt.max())
            if e._sched_zones and P.size:
                act = e._active_mask(Z, tt[P], lo, hi)
                P, Z, D = P[act], Z[act], D[act]
            self.pair_keys = np.sort(P * len(e.zones) + Z)
            for rule in e._zone_rules:
                w = e._watch[rule.index]
                assert w is not None
                sel = w[Z]
                if not sel.any():
                    continue
                p, z, d = P[sel], Z[sel], D[sel]
                v = rule.verdicts(Rows(z, d, self.acc[p], self.speed[p], tt[p], e._za))
                parts_p.append(p)
                parts_r.append(np.full(p.size, rule.index, dtype=np.int64))
                parts_z.append(z)
                parts_v.append(np.asarray(v, dtype=np.int8))
                parts_d.append(d)
            # inclusion-like rules: fixes far outside their zones have no pair; give them the far verdict
            if e._abs_r.size:
                gp = np.flatnonzero(self.good)
                gs = s[gp]
                lo_off = e._abs_off[gs]
                cnt = e._abs_off[gs + 1] - lo_off
                if cnt.any():
                    k, off = geo._expand(cnt)
                    ap = gp[k]
                    idx = lo_off[k] + off
                    ar, az = e._abs_r[idx], e._abs_z[idx]
                    keys = ap * len(e.zones) + az
                    missing = ~np.isin(keys, self.pair_keys)
                    ap, ar, az = ap[missing], ar[missing], az[missing]
                    if ap.size and e._sched_zones:
                        act = e._active_mask(az, tt[ap], lo, hi)
                        ap, ar, az = ap[act], ar[act], az[act]
                    if ap.size:
                        parts_p.append(ap)
                        parts_r.append(ar)
                        parts_z.append(az)
                        parts_v.append(e._far_arr[ar])
                        parts_d.append(np.full(ap.size, NEG_INF))
        else:
            self.pair_keys = empty_i
        if parts_p:
            self.rp = np.concatenate(parts_p)
            self.rr = np.concatenate(parts_r)
            self.rz = np.concatenate(parts_z)
            self.rv = np.concatenate(parts_v)
            self.rd = np.concatenate(parts_d)
        else:
            self.rp = self.rr = self.rz = empty_i
            self.rv = np.zeros(0, dtype=np.int8)
            self.rd = np.zeros(0)

    def _crossings(self) -> None:
        e, cfg = self.e, self.e.config
        self.cp = self.cz = np.zeros(0, dtype=np.int64)
        if e._segments is None:
            return
        seg = np.flatnonzero(self.good & (self.pv_t > NEG_INF) & (self.tt - self.pv_t <= cfg.crossing_max_gap_s))
        if not seg.size:
            return
        slots = self.s[seg]
        si, zi = e._segments.query(self.pv_x[seg], self.pv_y[seg], self.x[seg], self.y[seg],
                                   keep=lambda k, z: e._applies(slots[k], z))
        if not si.size:
            return
        p = seg[si]
        if p.size and e._sched_zones:
            act = e._active_mask(zi, self.tt[p], float(self.tt.min()), float(self.tt.max()))
            p, zi = p[act], zi[act]
        order = np.argsort(p, kind="stable")
        self.cp, self.cz = p[order], zi[order]

    # which targets need Python ----------------------------------------------------------------------------

    def hot_slots(self) -> np.ndarray:
        e = self.e
        s = self.s
        hot = e._hot[s] | e._always[s]
        # an undecided or clear verdict changes nothing without a condition (those targets are hot anyway)
        live = (self.rv == VIOLATING) & ~self.late[self.rp]
        hot[self.rp[live]] = True
        hot[self.cp] = True
        slots = np.unique(s[hot])
        if self.flip_slots.size:
            slots = np.union1d(slots, self.flip_slots)
        return slots

    # the per-fix Python path ----------------------------------------------------------------------------------

    def run_python(self, hot_slots: np.ndarray, effects: list[Effect]) -> None:
        e = self.e
        gs = self.s[self.group_start]
        gi = np.flatnonzero(np.isin(gs, hot_slots))
        # targets in id order, so that effects come out per target by id
        gi = gi[np.argsort(e._ids[gs[gi]], kind="stable")]
        lo, hi = self.group_start[gi], self.group_end[gi]
        k, off = geo._expand(hi - lo)
        H = lo[k] + off                                   # hot positions, target by target
        e.stats["python_fixes"] += int(H.size)
        local = np.full(self.m, -1, dtype=np.int64)
        local[H] = np.arange(H.size)
        # rows of hot positions, grouped by local position
        rl = local[self.rp]
        sel = np.flatnonzero(rl >= 0)
        sel = sel[np.argsort(rl[sel], kind="stable")]
        row_off = np.zeros(H.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(rl[sel], minlength=H.size), out=row_off[1:])
        R = (self.rr[sel].tolist(), self.rz[sel].tolist(), self.rv[sel].tolist(), self.rd[sel].tolist())
        cl = local[self.cp]
        csel = np.flatnonzero(cl >= 0)
        cross: dict[int, list[int]] = {}
        for a, z in zip(cl[csel].tolist(), self.cz[csel].tolist(), strict=True):
            cross.setdefault(a, []).append(z)
        L = _Lists(self, H)
        flips: dict[int, list[tuple[float, int, bool]]] = {}
        if self.fp.size:
            fl = local[self.fp]
            fsel = np.flatnonzero(fl >= 0)
            for a, moment, z, starts in zip(fl[fsel].tolist(), self.fm[fsel].tolist(), self.fz[fsel].tolist(),
                                            self.fs[fsel].tolist(), strict=True):
                flips.setdefault(a, []).append((moment, z, starts))
        ro = row_off.tolist()
        starts = (np.cumsum(hi - lo) - (hi - lo)).tolist()
        for g, a0, n in zip(gs[gi].tolist(), starts, (hi - lo).tolist(), strict=True):
            self._run_target(g, a0, a0 + n, L, ro, R, cross, flips, effects)

    def _run_target(self, slot: int, a0: int, a1: int, L: _Lists, ro: list[int],
                    R: tuple[list[int], list[int], list[int], list[float]], cross: dict[int, list[int]],
                    flips: dict[int, list[tuple[float, int, bool]]], effects: list[Effect]) -> None:
        e = self.e
        cfg = e.config
        info = e._infos[slot]
        assert info is not None
        ts = e._ts.get(slot) or _TS()
        conds = ts.conds
        applying = e._rules_for[slot]
        hooks, late_hooks = e._hooks_for(applying)
        ctx: FixContext | None = None
        rr, rz, rv, rd = R
        far = e._far
        dwell_t, fast_t = e._dwell, e._fast
        last_j = -1  # the last good fix so far: a position here, or (-1) the one in the state
        schedules = e._schedules
        n_zones = len(e.zones)
        min_fixes = cfg.min_fixes
        for j in range(a0, a1):
            t = L.t[j]
            good = L.good[j]
            if L.late[j]:
                if L.late_good[j] and conds:
                    for k in range(ro[j], ro[j + 1]):
                        if rv[k] == VIOLATING:
                            c = conds.get((rr[k], rz[k]))
                            if c is not None and c.open and c.ev_n < cfg.evidence_max:
                                c.ev_n += 1
                                effects.append(Effect("evidence", info.id, e._names[rr[k]], e._zone_id(rz[k]), t,
                                                      (L.ref[j],), e._sev[rr[k]], {"late": True}))
                if late_hooks:
                    if ctx is None:
                        ctx = FixContext(e, slot, ts, effects)
                    self._fill(ctx, L, j, good, True, cross)
                    for rule in late_hooks:
                        rule.on_late_fix(ctx)
                continue
            if j in flips:
                last = e._last_good(slot) if last_j < 0 else L.prev_fix(last_j)
                for moment, z, starts in flips[j]:
                    e._transition(slot, ts, moment, z, starts, last, effects)
            if good:
                ref = L.ref[j]
                had = bool(conds)
                seen: set[tuple[int, int]] = set()
                for k in range(ro[j], ro[j + 1]):
                    ri, zi, v = rr[k], rz[k], rv[k]
                    key = (ri, zi)
                    if v != VIOLATING and key not in conds:
                        continue
                    if ri not in applying:
                        continue
                    if had:
                        seen.add(key)
                    e._observe(slot, ts, ri, zi, v, t, ref, rd[k], dwell_t[ri][zi], min_fixes, fast_t[ri][zi],
                               effects)
                if had:
                    for key in sorted(key for key in conds if key not in seen):
                        ri, zi = key
                        fv = far[ri]
                        if fv is None or zi < 0 or zi >= n_zones:
                            continue
                        sch = schedules[zi]
                        if sch is not None and not sch.active(t):
                            continue
                        if not e.zones[zi].applies_to(info):
                            continue
                        dw = dwell_t[ri][zi] if dwell_t[ri] else cfg.dwell_s
                        fa = fast_t[ri][zi] if fast_t[ri] else False
                        e._observe(slot, ts, ri, zi, fv, t, ref, NEG_INF, dw, min_fixes, fa, effects)
            if hooks:
                filled = False
                crossing = cross.get(j)
                for rule in hooks:
                    ri = rule.index
                    if not (rule.every_fix or ri in ts.rstate or (rule.segments and crossing)
                            or (far[ri] is None and any(k[0] == ri for k in conds))):
                        continue
                    if not filled:
                        if ctx is None:
                            ctx = FixContext(e, slot, ts, effects)
                        self._fill(ctx, L, j, good, False, cross)
                        filled = True
                    rule.on_fix(ctx)  # type: ignore[arg-type]
                    st = ts.rstate.get(ri)
                    if st is not None and not st:
                        del ts.rstate[ri]
            if good:
                last_j = j
        if conds or ts.rstate or e._hot[slot]:
            e._settle(slot, ts)

    def _fill(self, ctx: FixContext, L: _Lists, j: int, good: bool, late: bool, cross: dict[int, list[int]]) -> None:
        e = self.e
        ctx.fix = L.fix(j)
        ctx.t, ctx.lon, ctx.lat, ctx.x, ctx.y, ctx.accuracy_m = L.t[j], L.lon[j], L.lat[j], L.x[j], L.y[j], L.acc[j]
        ctx.good, ctx.late = good, late
        sp = L.speed[j]
        ctx.speed_kmh = None if sp != sp else sp
        pt = L.pv_t[j]
        ctx.prev = None if pt == NEG_INF else PrevFix(pt, L.pv_lon[j], L.pv_lat[j], L.pv_x[j], L.pv_y[j],
                                                      L.pv_acc[j], L.pv_ref[j])
        ctx.crossings = [e.zones[z] for z in cross.get(j, ())]

    # committing the vectorised part of the state ------------------------------------------------------------

    def commit(self) -> None:
        e = self.e
        s, tt = self.s, self.tt
        last = np.flatnonzero(self.last)
        ls = s[last]
        e._newest[ls] = np.maximum(e._newest[ls], tt[last])
        e._contact[ls] = np.maximum(e._contact[ls], tt[last])
        e._sched[ls] = np.maximum(e._sched[ls], tt[last])
        gp = np.flatnonzero(self.good)
        if gp.size:
            gsl = s[gp]
            glast = gp[np.r_[gsl[1:] != gsl[:-1], True]]
            g = s[glast]
            e._gt[g], e._gx[g], e._gy[g] = tt[glast], self.x[glast], self.y[glast]
            e._glon[g], e._glat[g], e._gacc[g], e._gref[g] = (self.lon[glast], self.lat[glast], self.acc[glast],
                                                               self.ref[glast])


class _Lists:
    """Python lists of the batch's columns at the hot positions (local index j)."""

    __slots__ = ("_b", "acc", "good", "late", "late_good", "lat", "lon", "pv_acc", "pv_lat", "pv_lon", "pv_ref",
                 "pv_t", "pv_x", "pv_y", "ref", "speed", "t", "x", "y", "_pos")

    def __init__(self, b: _Batch, H: np.ndarray) -> None:
        self._b = b
        self._pos = H
        self.t = b.tt[H].tolist()
        self.x = b.x[H].tolist()
        self.y = b.y[H].tolist()
        self.lon = b.lon[H].tolist()
        self.lat = b.lat[H].tolist()
        self.acc = b.acc[H].tolist()
        self.ref = b.ref[H].tolist()
        self.good = b.good[H].tolist()
        self.late = b.late[H].tolist()
        self.late_good = b.late_good[H].tolist()
        self.speed = b.speed[H].tolist()
        self.pv_t = b.pv_t[H].tolist()
        self.pv_x = b.pv_x[H].tolist()
        self.pv_y = b.pv_y[H].tolist()
        self.pv_lon = b.pv_lon[H].tolist()
        self.pv_lat = b.pv_lat[H].tolist()
        self.pv_acc = b.pv_acc[H].tolist()
        self.pv_ref = b.pv_ref[H].tolist()

    def prev_fix(self, j: int) -> PrevFix:
        return PrevFix(self.t[j], self.lon[j], self.lat[j], self.x[j], self.y[j], self.acc[j], self.ref[j])

    def fix(self, j: int) -> FixIn:
        b = self._b
        return b.fix_of(int(b.order[int(self._pos[j])]))
