"""The one access policy: *may this user do this on this object?* and *which objects may they see?*

Answer = permission (from the user's roles) × scope (the role's reach: the whole district, an area
subtree, an organisation, own records) + per-object grants − restrictions (sealed records, and the conditions
a module registers with :func:`register_restriction`). Lists are
filtered with :func:`restrict` (one query filter); single objects and actions are checked with
:func:`can` / :func:`require`, which run the same filter against the object's row, so the two never
disagree. No view or endpoint filters by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.db.models import Q, QuerySet

from pingan.accounts import permissions
from pingan.core import clock
from pingan.core.errors import PermissionDeniedError

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class ScopeSpec:
    """Paths from a model to what scopes it. ``""`` means the object itself (an Area, an
    Organisation); ``None`` means the model cannot be reached that way."""

    area_path: str | None = None
    org_path: str | None = None
    owner_path: str | None = None
    sealed_field: str | None = None


_specs: dict[type[models.Model], ScopeSpec] = {}


def register_scope(model: type[models.Model], spec: ScopeSpec) -> None:
    _specs[model] = spec


#: a further condition rows of a model must meet for a user and a permission (None: no further condition)
Restriction = Callable[[Any, str], "Q | None"]
_restrictions: dict[type[models.Model], list[Restriction]] = {}


def register_restriction(model: type[models.Model], fn: Restriction) -> None:
    """Narrow what the scope reaches: ``fn(user, perm)`` returns a filter the rows of ``model`` must also
    satisfy (applied in :func:`scope_q`, hence in :func:`restrict`, :func:`can` and :func:`require`, after
    grants), or None for no further condition. A higher module uses it to narrow a lower module's rows that
    it owns (如燕 on tracking's targets, alerts and tracks of correction subjects) without the lower module
    importing it. Superusers are not restricted."""
    if fn not in _restrictions.setdefault(model, []):
        _restrictions[model].append(fn)


def _restricted(user: Any, perm: str, model: type[models.Model], q: Q) -> Q:
    for fn in _restrictions.get(model, ()):
        extra = fn(user, perm)
        if extra is not None:
            q = q & extra
    return q


def spec_for(model: type[models.Model]) -> ScopeSpec:
    try:
        return _specs[model]
    except KeyError:
        raise LookupError(f"{model.__name__} has no scope spec; register one in its app's scopes.py") from None


@dataclass(frozen=True)
class Reach:
    """One role assignment reduced to what the policy needs."""

    role: str
    scope: str
    permissions: frozenset[str]
    area_code: str | None
    area_id: int | None
    organisation_id: int | None


def reaches(user: Any) -> list[Reach]:
    """The user's active assignments (cached on the user object for the request)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_pingan_reaches", None)
    if cached is not None:
        return cached
    result = [
        Reach(
            role=role,
            scope=scope,
            permissions=frozenset((json.loads(permissions) if isinstance(permissions, str) else permissions) or ()),
            area_code=area_code,
            area_id=area_id,
            organisation_id=organisation_id,
        )
        for role, scope, permissions, area_code, area_id, organisation_id in _assignment_rows(user.pk)
    ]
    user._pingan_reaches = result
    return result


def _assignment_rows(user_id: int) -> list[tuple[Any, ...]]:
    """(role code, scope, permissions, area code, area id, organisation id) of the user's active assignments,
    in id order: one fixed statement, asked by every request (the ORM's compiling it cost more than running it)."""
    from pingan.accounts.models import Role, RoleAssignment
    from pingan.geo.models import Area

    q = connection.ops.quote_name
    assignments, roles, areas = (q(m._meta.db_table) for m in (RoleAssignment, Role, Area))
    sql = (
        f"SELECT r.{q('code')}, r.{q('scope')}, r.{q('permissions')}, a.{q('code')}, ra.{q('area_id')}, "  # noqa: S608
        f"ra.{q('organisation_id')} FROM {assignments} ra JOIN {roles} r ON r.{q('id')} = ra.{q('role_id')} "
        f"LEFT JOIN {areas} a ON a.{q('id')} = ra.{q('area_id')} "
        f"WHERE ra.{q('user_id')} = %s AND ra.{q('is_active')} = %s ORDER BY ra.{q('id')}"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [user_id, True])
        return list(cur.fetchall())


def _reach(a: Any) -> Reach:
    return Reach(role=a.role.code, scope=a.role.scope, permissions=frozenset(a.role.permissions),
                 area_code=a.area.code if a.area else None, area_id=a.area_id, organisation_id=a.organisation_id)


def role_codes(user: Any) -> set[str]:
    return {r.role for r in reaches(user)}


def has_perm(user: Any, perm: str) -> bool:
    """Whether any of the user's roles carries ``perm`` (somewhere)."""
    permissions.get(perm)
    if getattr(user, "is_superuser", False) and user.is_active:
        return True
    return any(perm in r.permissions for r in reaches(user))


def _path(prefix: str, suffix: str) -> str:
    return f"{prefix}__{suffix}" if prefix else suffix


def _multi_valued(model: type[models.Model], path: str) -> bool:
    """Whether ``path`` from ``model`` crosses a relation that can match several rows (a reverse foreign key,
    a many-to-many)."""
    for name in path.split("__"):
        field = model._meta.get_field(name)
        if field.one_to_many or field.many_to_many:
            return True
        if field.related_model is None:
            return False
        model = field.related_model
    return False


def _via(model: type[models.Model], path: str, lookup: str, value: Any) -> Q:
    """``path__lookup=value``; across a relation that can match several rows, as ``pk IN (subquery)``: the
    outer query gets no join, hence no duplicate rows to remove with DISTINCT (which sorts every row the
    filter keeps, before any LIMIT)."""
    q = Q(**{_path(path, lookup): value})
    if path and _multi_valued(model, path):
        return Q(pk__in=model._default_manager.filter(q).values("pk"))
    return q


def _reach_q(reach: Reach, spec: ScopeSpec, model: type[models.Model], user: Any, scoped: bool) -> Q | None:
    if not scoped or reach.scope == "district":
        return Q()
    org_q = None
    if reach.scope in ("organisation", "area") and reach.organisation_id is not None and spec.org_path is not None:
        org_q = _via(model, spec.org_path, "pk", reach.organisation_id)
    if reach.scope == "area" and reach.area_code is not None and spec.area_path is not None:
        area_q = Q(**{_path(spec.area_path, "code__startswith"): reach.area_code})
        # An area role also reaches what is handed to its own organisation (a department's tasks).
        return area_q | org_q if org_q is not None else area_q
    if org_q is not None:
        return org_q
    if reach.scope == "own" and spec.owner_path is not None:
        return Q(**{spec.owner_path: user.pk})
    return None


def scope_q(user: Any, perm: str, model: type[models.Model]) -> Q | None:
    """A filter for the rows of ``model`` the user may ``perm``; None when none at all."""
    definition = permissions.get(perm)
    spec = spec_for(model)
    if getattr(user, "is_superuser", False) and user.is_active:
        return Q()
    parts = [
        q for r in reaches(user) if perm in r.permissions
        if (q := _reach_q(r, spec, model, user, definition.scoped)) is not None
    ]
    combined: Q | None = None
    for q in parts:
        if not q:  # an empty Q reaches everything
            combined = Q()
            break
        combined = q if combined is None else combined | q
    if spec.owner_path is not None and parts and combined is not None and combined:
        # Whoever may see these at all also sees their own (a reporter follows what they reported).
        combined = combined | Q(**{spec.owner_path: user.pk})
    if spec.sealed_field and combined is not None and not _reaches_sealed(user):
        combined = combined & Q(**{spec.sealed_field: False})
    # Object grants only add rows; a reach of every row (an empty Q) needs none, so skip their query.
    grant_ids = [] if combined is not None and not combined else _granted_ids(user, perm, model)
    if grant_ids:
        grant_q = Q(pk__in=grant_ids)
        combined = grant_q if combined is None else combined | grant_q
    if combined is not None:
        combined = _restricted(user, perm, model, combined)
    return combined


def _reaches_sealed(user: Any) -> bool:
    return getattr(user, "is_superuser", False) or any(permissions.VIEW_SEALED.code in r.permissions for r in reaches(user))


def _granted_ids(user: Any, perm: str, model: type[models.Model]) -> list[str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_pingan_grants", {}).get((perm, model))
    if cached is not None:
        return list(cached)
    return list(_live_grants(perm, model).filter(user=user).values_list("object_id", flat=True))


def _live_grants(perm: str, model: type[models.Model]) -> QuerySet[Any]:
    from pingan.accounts.models import ObjectGrant

    return ObjectGrant.objects.filter(permission=perm, content_type=ContentType.objects.get_for_model(model)).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=clock.now()))


def holders(perm: str, obj: models.Model) -> list[Any]:
    """The active users who hold ``perm`` through a role and may use it on ``obj``, by id: whom to notify of
    an alert, whom to offer as approvers (:func:`holders_many` for one object)."""
    return holders_many(perm, [obj])[obj.pk]


def holders_many(perm: str, objs: Sequence[models.Model]) -> dict[Any, list[Any]]:
    """:func:`holders` for several objects of one model at once, by the objects' pks. The same decision as
    :func:`can` for each candidate and object, in a fixed number of queries however many there are of
    either: the candidates' assignments, their grants, then one query over the objects' rows with a
    conditional count per candidate (joins in such conditions are outer joins, so one candidate's condition
    never hides a row from another's)."""
    from django.db.models import Count

    from pingan.accounts.models import Role, RoleAssignment

    out: dict[Any, list[Any]] = {obj.pk: [] for obj in objs}
    roles = [r.pk for r in Role.objects.all() if perm in (r.permissions or [])]
    if not objs or not roles:
        return out
    chosen = RoleAssignment.objects.filter(is_active=True, role_id__in=roles, user__is_active=True).values("user_id")
    users: dict[int, Any] = {}
    for a in (RoleAssignment.objects.filter(is_active=True, user_id__in=chosen)
              .select_related("user", "role", "area").order_by("user_id", "pk")):
        user = users.setdefault(a.user_id, a.user)
        user.__dict__.setdefault("_pingan_reaches", []).append(_reach(a))
    model = type(objs[0])
    granted: dict[int, list[str]] = {pk: [] for pk in users}
    for user_id, object_id in _live_grants(perm, model).filter(user_id__in=list(users)).values_list("user_id", "object_id"):
        granted[user_id].append(object_id)
    for pk, user in users.items():
        user._pingan_grants = {(perm, model): granted[pk]}
    counts: dict[str, Any] = {}
    for pk, user in sorted(users.items()):
        q = scope_q(user, perm, model)
        if q is None:
            continue
        if not q:
            for found in out.values():
                found.append(user)
        else:
            counts[f"u{pk}"] = Count("pk", filter=q)
    if counts:
        rows = model._default_manager.filter(pk__in=list(out)).values("pk").annotate(**counts).order_by()
        for row in rows:
            found = out[row.pop("pk")]
            found += [users[int(key[1:])] for key, n in row.items() if n]
    return {pk: sorted(found, key=lambda u: u.pk) for pk, found in out.items()}


def restrict(user: Any, perm: str, queryset: QuerySet[M]) -> QuerySet[M]:
    """The rows of ``queryset`` the user may ``perm``."""
    q = scope_q(user, perm, queryset.model)
    if q is None:
        return queryset.none()
    if not q:
        return queryset
    narrowed = queryset.filter(q)
    return narrowed.distinct() if _joins_several(narrowed) else narrowed


def _joins_several(queryset: QuerySet[Any]) -> bool:
    """Whether the query joins a relation that can repeat its rows (what a registered restriction may add;
    the scope's own terms never do, see :func:`_via`)."""
    for join in queryset.query.alias_map.values():
        field = getattr(join, "join_field", None)
        if field is not None and (getattr(field, "one_to_many", False) or getattr(field, "many_to_many", False)):
            return True
    return False


def can(user: Any, perm: str, obj: models.Model | None = None) -> bool:
    if obj is None:
        return has_perm(user, perm)
    q = scope_q(user, perm, type(obj))
    if q is None:
        return False
    if not q and obj.pk is not None and not obj._state.adding:
        return True  # a reach of every row: a saved object is among them, no query needed
    return type(obj)._default_manager.filter(q, pk=obj.pk).exists()


def require(user: Any, perm: str, obj: models.Model | None = None) -> None:
    """Raise PermissionDeniedError unless the user may ``perm`` (on ``obj``)."""
    if not can(user, perm, obj):
        raise PermissionDeniedError("permission_denied", f"not allowed: {perm}")
