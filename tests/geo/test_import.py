from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import shapely
from django.core.management import call_command
from django.core.management.base import CommandError

from pingan.geo.importer import feature
from pingan.geo.models import Area
from tests.conftest import TREE


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def good_features() -> list[dict]:
    return [feature(c, n, "", lvl, parent, g) for c, n, lvl, parent, g in TREE]


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "areas.geojson"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def run_import(path: Path, *extra: str) -> None:
    call_command("areas", "import", str(path), *extra)


@pytest.mark.django_db
def test_a_clean_file_imports_and_exports_the_same_tree(tmp_path: Path) -> None:
    run_import(write(tmp_path, collection(*good_features())))
    assert Area.objects.count() == len(TREE)
    micro = Area.objects.get(code="330503100201001002")
    assert micro.parent.code == "330503100201001" and micro.level == "microgrid"
    out = tmp_path / "out.geojson"
    call_command("areas", "export", str(out))
    exported = json.loads(out.read_text())
    assert sorted(f["properties"]["code"] for f in exported["features"]) == sorted(c for c, *_ in TREE)
    # importing the export again changes nothing but updates in place
    run_import(out)
    assert Area.objects.count() == len(TREE)


def broken(index: int, change) -> dict:  # type: ignore[no-untyped-def]
    features = good_features()
    change(features[index])
    return collection(*features)


def _set(key: str, value: object):  # type: ignore[no-untyped-def]
    return lambda f: f["properties"].__setitem__(key, value)


def _coords(value: object):  # type: ignore[no-untyped-def]
    return lambda f: f["geometry"].__setitem__("coordinates", value)


BOWTIE = [[[120.30, 30.80], [120.35, 30.85], [120.35, 30.80], [120.30, 30.85], [120.30, 30.80]]]

CASES = {
    "invalid JSON": ("{not json", "invalid JSON"),
    "unknown level": (broken(3, _set("level", "province")), "feature #3 (code 330503100201): unknown level"),
    "missing parent": (broken(7, lambda f: f["properties"].update(code="330503100201009001", parent_code="330503100201009")),
                       "parent 330503100201009 is neither"),
    "code not extending parent": (broken(7, _set("code", "330503999")), "does not extend its parent"),
    "out of range": (broken(9, _coords([[[120.3, 30.8], [200.0, 30.8], [120.4, 30.9], [120.3, 30.8]]])), "outside ±180/±90"),
    "NaN": (broken(9, _coords([[[120.3, 30.8], [math.nan, 30.8], [120.4, 30.9], [120.3, 30.8]]])), "NaN"),
    "ring not closed": (broken(9, _coords([[[120.3, 30.8], [120.4, 30.8], [120.4, 30.9], [120.3, 30.9]]])), "is not closed"),
    "self-intersecting": (broken(9, _coords(BOWTIE)), "invalid polygon (Self-intersection"),
    "sticks out": (broken(9, _coords([[[120.40, 30.80], [120.60, 30.80], [120.60, 30.90], [120.40, 30.90], [120.40, 30.80]]])),
                   "sticks out of its parent 330503101201001"),
    "duplicate code": (collection(*good_features(), good_features()[9]), "duplicate code (also feature #9)"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_names_the_feature_and_imports_nothing(case: str, tmp_path: Path) -> None:
    data, message = CASES[case]
    with pytest.raises(CommandError) as err:
        run_import(write(tmp_path, data))
    assert "nothing imported" in str(err.value)
    assert message in str(err.value)
    assert Area.objects.count() == 0


@pytest.mark.django_db
def test_repair_fixes_a_self_intersecting_polygon_only_when_asked(tmp_path: Path) -> None:
    features = good_features()[:1]
    bowtie = shapely.Polygon([(120.30, 30.80), (120.40, 30.90), (120.40, 30.80), (120.30, 30.90), (120.30, 30.80)])
    features[0]["geometry"] = shapely.geometry.mapping(bowtie)
    path = write(tmp_path, collection(*features))
    with pytest.raises(CommandError):
        run_import(path)
    run_import(path, "--repair")
    district = Area.objects.get(code="330503")
    assert district.geometry.is_valid and district.area_km2 > 0
