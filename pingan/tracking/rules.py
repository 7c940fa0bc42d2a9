"""Rules of the tracking engine: the interface, the registry, and the engine's own rules.

A rule is a class registered with :func:`register`; every :class:`~pingan.tracking.engine.Engine` built
afterwards instantiates each registered rule once, with its :class:`~pingan.tracking.engine.EngineConfig`.
Modules built on the engine (如燕, 途安在线) register theirs at import time, as the apps register their
permissions; the engine never imports them.

There are two kinds of rule, and a rule may be both:

* **Zone rules** implement :meth:`Rule.watches` and :meth:`Rule.verdicts`. For every good fix near or in a
  zone the rule watches (and that applies to the target, while the zone's schedule is active), the
  engine computes the signed distance to the zone's border and asks the rule, for whole arrays of (fix,
  zone) rows at once, for a verdict: ``1`` violating, ``-1`` clear, ``0`` undecided. The engine then runs
  the condition for each target × rule × zone: dwell, ``min_fixes``, fast zones, one open alert, evidence,
  re-arming (see ``docs/modules/tracking.md``). Rows far outside every watched zone get the rule's
  ``far_verdict`` without any geometry (and a fix whose verdicts are all clear, for a target with no open
  condition, costs no Python at all: that is what keeps the engine fast).
* **Fix and tick rules** override :meth:`Rule.on_fix` / :meth:`Rule.on_tick` and keep a small JSON-able
  state per target (``ctx.state(self)``), which travels with the target's exported state. They raise and
  clear through the context, which keeps the one-open-alert rule. ``every_fix = True`` makes the engine
  call ``on_fix`` for every fix of the targets the rule :meth:`Rule.applies` to (those targets then always
  take the per-fix Python path); otherwise ``on_fix`` runs only while the rule has state or an open
  condition for the target, or (``segments = True``) when the straight segment from the previous good fix
  passes ``buffer_m`` inside a zone the rule watches.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from pingan.tracking.engine import EngineConfig, FixContext, TargetInfo, TargetView, TickContext, ZoneSpec

__all__ = [
    "Crossing",
    "LostContact",
    "Rows",
    "Rule",
    "Speed",
    "ZoneArrays",
    "ZoneExclusion",
    "ZoneInclusion",
    "ZoneRing",
    "register",
    "registered",
    "unregister",
]

VIOLATING, UNDECIDED, CLEAR = 1, 0, -1

_REGISTRY: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: make a rule known to every engine built afterwards."""
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls.__name__} needs a name")
    known = _REGISTRY.get(name)
    if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"a rule named {name!r} is registered already ({known.__qualname__})")
    _REGISTRY[name] = cls
    return cls


def unregister(name: str) -> None:
    """Forget a rule (tests)."""
    _REGISTRY.pop(name, None)


def registered() -> list[type[Rule]]:
    """The registered rule classes, in registration order."""
    return list(_REGISTRY.values())


class ZoneArrays:
    """Per-zone parameters of an engine's zones, indexed like ``Rows.zone``."""

    __slots__ = ("fast", "ids", "kind", "ring_m", "speed_duration_s", "speed_limit_kmh")

    def __init__(self, zones: list[ZoneSpec]) -> None:
        self.ids = np.array([z.id for z in zones], dtype=np.int64)
        self.kind = np.array([z.kind for z in zones], dtype=object)
        self.ring_m = np.array([float(z.ring_m or 0.0) for z in zones], dtype=np.float64)
        self.fast = np.array([bool(z.fast) for z in zones], dtype=bool)
        self.speed_limit_kmh = np.array([np.nan if z.speed_limit_kmh is None else float(z.speed_limit_kmh)
                                         for z in zones], dtype=np.float64)
        self.speed_duration_s = np.array([float(z.speed_duration_s) for z in zones], dtype=np.float64)


class Rows:
    """(fix, zone) rows handed to :meth:`Rule.verdicts`, as arrays of one length.

    ``zone`` indexes ``zones`` (the engine's :class:`ZoneArrays`); ``d`` is the signed distance to the
    border in metres (positive inside; exact within the zone's margin, else ±inf); ``acc`` the fix's
    accuracy; ``speed_kmh`` the device's speed or, when it sends none, the speed implied by the previous
    good fix (NaN when unknown); ``t`` the fix's device time."""

    __slots__ = ("acc", "d", "speed_kmh", "t", "zone", "zones")

    def __init__(self, zone: np.ndarray, d: np.ndarray, acc: np.ndarray, speed_kmh: np.ndarray, t: np.ndarray,
                 zones: ZoneArrays) -> None:
        self.zone, self.d, self.acc, self.speed_kmh, self.t, self.zones = zone, d, acc, speed_kmh, t, zones

    def __len__(self) -> int:
        return int(self.zone.size)


def side(d: np.ndarray, threshold: np.ndarray | float) -> np.ndarray:
    """1 where ``d >= threshold``, -1 where ``d <= -threshold``, else 0 (int8)."""
    return np.where(d >= threshold, VIOLATING, np.where(d <= -threshold, CLEAR, UNDECIDED)).astype(np.int8)


class Rule:
    """The base of every rule (see the module docstring). Subclasses set ``name`` and override hooks."""

    name: ClassVar[str] = ""
    severity: ClassVar[str] = "alarm"
    every_fix: ClassVar[bool] = False
    segments: ClassVar[bool] = False
    #: zone rules: the verdict for a good fix farther outside than the zone's margin (None: the rule feeds
    #: its conditions itself, e.g. lost contact)
    far_verdict: ClassVar[int | None] = None
    #: zone rules: when a zone's schedule starts, raise at once for targets whose last good fix is violating
    start_alert: ClassVar[bool] = False

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.index = -1  # set by the engine

    def __repr__(self) -> str:
        return f"<rule {self.name}>"

    # -- which targets and zones ------------------------------------------------------------------

    def applies(self, target: TargetInfo) -> bool:
        """Whether the rule runs for a target at all (asked once per set_target)."""
        return True

    def watches(self, zone: ZoneSpec) -> bool:
        """Zone rules: whether the rule evaluates fixes against this zone."""
        return False

    def margin_m(self, zone: ZoneSpec) -> float:
        """How far outside (and inside) a watched zone's border distances must be exact for this rule."""
        return max(self.config.buffer_m, self.config.max_accuracy_m)

    # -- zone rules --------------------------------------------------------------------------------

    def verdicts(self, rows: Rows) -> np.ndarray:
        """Zone rules: int8 verdicts (1 violating, 0 undecided, -1 clear) for arrays of rows. A rule whose
        ``watches`` answers True for some zone must define it."""
        raise TypeError(f"rule {self.name!r} watches zones but defines no verdicts()")

    def dwell_s(self, zone: ZoneSpec) -> float:
        return float(self.config.dwell_s)

    def fast(self, zone: ZoneSpec) -> bool:
        """Whether a zone alerts on the second consecutive violating fix, without the dwell."""
        return False

    # -- fix and tick rules --------------------------------------------------------------------------

    def on_fix(self, ctx: FixContext) -> None:
        """One on-time fix of a target (see the module docstring for when it is called)."""

    def on_late_fix(self, ctx: FixContext) -> None:
        """A late fix (before the target's newest evaluated fix): evidence only, never raise or clear."""

    def on_tick(self, ctx: TickContext) -> None:
        """The periodic tick, for the targets in ``ctx`` (see :class:`~pingan.tracking.engine.TickContext`)."""

    def next_due(self, view: TargetView) -> float | None:
        """When a tick must look at a target again for this rule (None: no need)."""
        return None


def is_zone_rule(rule: Rule) -> bool:
    return type(rule).verdicts is not Rule.verdicts


# --- the engine's own rules ---------------------------------------------------------------------------


@register
class ZoneExclusion(Rule):
    """Inside an exclusion zone by the buffer, for the dwell (or twice in a row in a fast zone)."""

    name = "zone_exclusion"
    far_verdict = CLEAR
    start_alert = True

    def watches(self, zone: ZoneSpec) -> bool:
        return zone.kind == "exclusion"

    def fast(self, zone: ZoneSpec) -> bool:
        return bool(zone.fast)

    def verdicts(self, rows: Rows) -> np.ndarray:
        return side(rows.d, np.maximum(self.config.buffer_m, rows.acc))


@register
class ZoneInclusion(Rule):
    """Outside an inclusion zone (e.g. the permitted county) by the buffer, for the dwell."""

    name = "zone_inclusion"
    far_verdict = VIOLATING
    start_alert = True

    def watches(self, zone: ZoneSpec) -> bool:
        return zone.kind == "inclusion"

    def fast(self, zone: ZoneSpec) -> bool:
        return bool(zone.fast)

    def verdicts(self, rows: Rows) -> np.ndarray:
        return side(-rows.d, np.maximum(self.config.buffer_m, rows.acc))


@register
class ZoneRing(Rule):
    """Within ``ring_m`` of an exclusion (or watch) zone — its border grown by ``ring_m`` — by the buffer,
    for the dwell: a warning before the zone itself."""

    name = "zone_ring"
    severity = "warning"
    far_verdict = CLEAR
    start_alert = True

    def watches(self, zone: ZoneSpec) -> bool:
        return zone.kind in ("exclusion", "watch") and float(zone.ring_m or 0.0) > 0.0

    def margin_m(self, zone: ZoneSpec) -> float:
        return float(zone.ring_m) + max(self.config.buffer_m, self.config.max_accuracy_m)

    def verdicts(self, rows: Rows) -> np.ndarray:
        return side(rows.d + rows.zones.ring_m[rows.zone], np.maximum(self.config.buffer_m, rows.acc))


@register
class Speed(Rule):
    """Inside a zone with a speed limit (by the buffer), above the limit for longer than the zone's
    ``speed_duration_s``; good fixes only. Leaving the zone, or a fix at or under the limit, is clear."""

    name = "speed"
    far_verdict = CLEAR

    def watches(self, zone: ZoneSpec) -> bool:
        limit = zone.speed_limit_kmh
        return limit is not None and float(limit) > 0.0

    def dwell_s(self, zone: ZoneSpec) -> float:
        return float(zone.speed_duration_s)

    def verdicts(self, rows: Rows) -> np.ndarray:
        where = side(rows.d, np.maximum(self.config.buffer_m, rows.acc))
        limit = rows.zones.speed_limit_kmh[rows.zone]
        over = rows.speed_kmh > limit
        under = rows.speed_kmh <= limit
        out = np.where(where == CLEAR, CLEAR, np.where(where == VIOLATING, np.where(over, VIOLATING,
                       np.where(under, CLEAR, UNDECIDED)), UNDECIDED))
        return out.astype(np.int8)


@register
class Crossing(Rule):
    """The straight segment between two consecutive good fixes passes ``buffer_m`` inside an exclusion
    zone while both fixes are at least ``buffer_m`` outside it (sparse fixes either side of a small zone).

    The segment A→B is confirmed by the next good fix C, unless B is a spike (a multipath jump: going to B
    and back is more than ``spike_detour`` × |AC| + ``spike_slack_m``), or, without a C, by a tick
    ``crossing_wait_s`` after B. Segments longer than ``crossing_max_gap_s`` in time are not straight
    enough to say anything."""

    name = "crossing"
    segments = True
    far_verdict = CLEAR

    def watches(self, zone: ZoneSpec) -> bool:
        return zone.kind == "exclusion"

    def _outside(self, ctx: FixContext, zone: ZoneSpec, x: float, y: float) -> bool:
        # both ends at least the buffer outside: an end nearer the border, or inside, is zone_exclusion's
        # business (and a multipath jump landing near the border is no crossing)
        return ctx.signed_distance(zone, x, y) <= -self.config.buffer_m

    def _spike(self, a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
        ab = math.dist(a, b)
        bc = math.dist(b, c)
        ac = math.dist(a, c)
        return ab + bc > self.config.spike_detour * ac + self.config.spike_slack_m

    def on_fix(self, ctx: FixContext) -> None:
        if not ctx.good:
            return
        cfg = self.config
        state = ctx.state(self)
        pending = state.pop("p", None)
        if pending is not None:
            t_a, lon_a, lat_a, acc_a, t_b, lon_b, lat_b, zone_ids, refs = pending
            a = ctx.to_xy(lon_a, lat_a)
            b = ctx.to_xy(lon_b, lat_b)
            if self._spike(a, b, (ctx.x, ctx.y)):
                # B was a jump: neither A→B nor B→C counts, but A→C still may
                if ctx.t - t_a <= cfg.crossing_max_gap_s:
                    zones = [z for z in ctx.segment_crossings(a[0], a[1], ctx.x, ctx.y) if self.watches(z)
                             and self._outside(ctx, z, a[0], a[1]) and self._outside(ctx, z, ctx.x, ctx.y)]
                    if zones:
                        state["p"] = [t_a, lon_a, lat_a, acc_a, ctx.t, ctx.lon, ctx.lat, [z.id for z in zones],
                                      [refs[0], ctx.fix.ref]]
                return
            for zone in filter(None, (ctx.zone(zid) for zid in zone_ids)):
                ctx.raise_alert(self, zone, t=t_b, refs=refs, detail={"since": t_a, "from_t": t_a, "to_t": t_b})
        prev = ctx.prev
        if prev is None or not ctx.crossings:
            return
        zones = [z for z in ctx.crossings if self.watches(z)
                 and self._outside(ctx, z, prev.x, prev.y) and self._outside(ctx, z, ctx.x, ctx.y)]
        if zones:
            state["p"] = [prev.t, prev.lon, prev.lat, prev.accuracy_m, ctx.t, ctx.lon, ctx.lat,
                          [z.id for z in zones], [prev.ref, ctx.fix.ref]]

    def on_tick(self, ctx: TickContext) -> None:
        for tid in ctx.with_state(self):
            state = ctx.state(tid, self)
            pending = state.get("p")
            if pending is None or ctx.now - pending[4] < self.config.crossing_wait_s:
                continue
            del state["p"]
            t_a, _lon_a, _lat_a, _acc_a, t_b, _lon_b, _lat_b, zone_ids, refs = pending
            for zone in filter(None, (ctx.zone(zid) for zid in zone_ids)):
                ctx.raise_alert(tid, self, zone, t=t_b, refs=refs, detail={"since": t_a, "from_t": t_a, "to_t": t_b})

    def next_due(self, view: TargetView) -> float | None:
        pending = view.state(self).get("p")
        return None if pending is None else float(pending[4]) + self.config.crossing_wait_s


@register
class LostContact(Rule):
    """No fix (of any kind, any accuracy) for longer than the target's ``interval_s`` × ``lost_factor``,
    found by the tick; cleared by the next fix. A target's own state: it never counts as "outside"."""

    name = "lost_contact"
    severity = "warning"

    def applies(self, target: TargetInfo) -> bool:
        return bool(target.interval_s) and math.isfinite(float(target.interval_s or 0)) and float(
            target.interval_s or 0) > 0

    def on_fix(self, ctx: FixContext) -> None:
        if ctx.is_open(self, None):
            ctx.clear(self, None, detail={"reason": "contact"})

    def on_tick(self, ctx: TickContext) -> None:
        ids, contact, interval = ctx.contacts(self)
        if not ids.size:
            return
        lost = ctx.now - contact > interval * self.config.lost_factor
        for tid, since in zip(ids[lost].tolist(), contact[lost].tolist(), strict=True):
            if ctx.is_open(tid, self, None):
                continue
            last = ctx.last_good(tid)
            detail: dict[str, Any] = {"since": since, "silent_s": round(ctx.now - since, 1)}
            if last is not None:
                detail.update(lon=last.lon, lat=last.lat)
            ctx.raise_alert(tid, self, None, t=ctx.now, refs=(), detail=detail)

    def next_due(self, view: TargetView) -> float | None:
        if view.contact_t is None or not view.target.interval_s or view.is_open(self, None):
            return None
        return view.contact_t + float(view.target.interval_s) * self.config.lost_factor

