from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from pingan.geo import actions
from pingan.geo.importer import AreaImportError, feature, parse_geojson
from pingan.geo.models import LEVEL_DEPTH, Area


class Command(BaseCommand):
    help = "Import or export the area tree as a GeoJSON FeatureCollection (code, name, level, parent_code)."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import FILE.geojson (all or nothing)")
        imp.add_argument("file")
        imp.add_argument("--repair", action="store_true", help="repair invalid polygons with make_valid")
        imp.add_argument("--tolerance", type=float, default=None, help="metres a child may stick out of its parent")
        exp = sub.add_parser("export", help="export to FILE (or - for stdout)")
        exp.add_argument("file")
        exp.add_argument("--level", choices=list(LEVEL_DEPTH), help="only this level")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            self.do_import(Path(options["file"]), options["repair"], options["tolerance"])
        else:
            self.do_export(options["file"], options.get("level"))

    def do_import(self, path: Path, repair: bool, tolerance: float | None) -> None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        existing = {a.code: (a.level, a.geometry) for a in Area.objects.all()}
        total = raw.count(b'"Feature"')
        with tqdm(total=total, desc="checking", unit="area", disable=total < 200 or not sys.stderr.isatty()) as bar:
            try:
                parsed = parse_geojson(
                    raw, repair=repair, existing=existing, progress=bar.update,
                    tolerance_m=settings.PINGAN_AREA_CHILD_TOLERANCE_M if tolerance is None else tolerance,
                )
            except AreaImportError as exc:
                lines = "\n".join(f"  {p}" for p in exc.problems)
                raise CommandError(f"nothing imported; {len(exc.problems)} problem(s):\n{lines}") from exc
        counts = actions.import_areas("cli", parsed)
        self.stdout.write(
            f"imported {len(parsed.areas)} areas: {counts['created']} new, {counts['updated']} updated, "
            f"{counts['repaired']} repaired"
        )

    def do_export(self, target: str, level: str | None) -> None:
        qs = Area.objects.select_related("parent").order_by("code")
        if level:
            qs = qs.filter(level=level)
        features = [
            feature(a.code, a.name, a.name_en, a.level, a.parent.code if a.parent else None, a.geometry, a.local_code)
            for a in qs.iterator(chunk_size=500)
        ]
        text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
        if target == "-":
            self.stdout.write(text)
        else:
            Path(target).write_text(text, encoding="utf-8")
            self.stderr.write(f"exported {len(features)} areas to {target}")
