"""A hostile-input-proof YAML reader for policies.yml.

`yaml.safe_load` still expands aliases (a 530-byte "billion laughs" file becomes hundreds of MB
and stalls or kills the engine), accepts any tag the safe constructor knows, and recurses as deep
as the document nests. This loader refuses, at the event level and before anything is built:

- aliases and anchors (`&a`, `*a`): a policies file never needs them;
- explicit tags other than YAML's core ones (`!!python/object`, `!foo`, ...);
- nesting deeper than MAX_DEPTH and files larger than MAX_FILE_BYTES.

Every message it produces, and every message built from a value of the file, is cut by
`bounded`, so no error can echo more than a few hundred characters of the input.
"""

from __future__ import annotations

from typing import Any

import yaml

from relia_web.guard import json_depth

MAX_FILE_BYTES = 256 * 1024  # a policies file with hundreds of policies is ~50 KB
MAX_DEPTH = 32  # policies -> [i] -> params -> ... is 4 deep; settings.budgets.per_service is 4
MAX_MESSAGE_CHARS = 300
CORE_TAGS = frozenset(
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
)


class YamlRejected(ValueError):
    """The document is not acceptable YAML for a policies file; the message is bounded."""


def bounded(text: Any, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` as a string of at most `limit` characters (with how much was cut)."""
    value = text if isinstance(text, str) else str(text)
    if len(value) <= limit:
        return value
    return f"{value[:limit]}... ({len(value) - limit} more characters)"


def _where(event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


class StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that checks each node's start event before composing it."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # PyYAML is untyped
        if isinstance(event, yaml.AliasEvent):
            raise YamlRejected(f"aliases (*name) are not allowed{_where(event)}")
        if getattr(event, "anchor", None) is not None:
            raise YamlRejected(f"anchors (&name) are not allowed{_where(event)}")
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in CORE_TAGS:
            raise YamlRejected(f"tag {bounded(tag, 60)!r} is not allowed{_where(event)}")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlRejected(f"nested deeper than {MAX_DEPTH} levels{_where(event)}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(data: bytes) -> Any:
    """Parse one YAML document strictly; raises YamlRejected with a bounded, located message."""
    if len(data) > MAX_FILE_BYTES:
        raise YamlRejected(f"file is larger than {MAX_FILE_BYTES} bytes ({len(data)} bytes)")
    if json_depth(data) > 4 * MAX_DEPTH:
        # fast path: PyYAML's scanner is quadratic in flow nesting (5,000 '[' take 0.3 s);
        # brackets counted outside double quotes only, so the margin is wide
        raise YamlRejected(f"nested deeper than {MAX_DEPTH} levels")
    loader = StrictSafeLoader(data)
    try:
        return loader.get_single_data()
    except YamlRejected:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlRejected(f"not valid YAML{where}: {bounded(problem, 120)}") from None
    except RecursionError:
        raise YamlRejected(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
