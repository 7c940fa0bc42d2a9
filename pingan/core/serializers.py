"""Django's JSON serialiser, but exact: times keep their microseconds.

Django's stock encoder cuts datetimes to milliseconds, so a backup restored from ``dumpdata`` would
differ from the original. Registered as the "json" format in settings.SERIALIZATION_MODULES.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.serializers.json import Deserializer as Deserializer  # noqa: PLC0414  (re-exported)
from django.core.serializers.json import DjangoJSONEncoder
from django.core.serializers.json import Serializer as JsonSerializer


class ExactJSONEncoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


class Serializer(JsonSerializer):
    def _init_options(self) -> None:
        self.options.setdefault("cls", ExactJSONEncoder)
        super()._init_options()  # type: ignore[misc]
