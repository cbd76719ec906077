"""Reading a person's YAML file safely: UTF-8, bounded in size and nesting, no duplicated keys.

Every problem becomes one `CampaignError` naming the file and, where YAML knows it, the line.
The campaign file goes through here, and so will any other file a person writes (lab files,
uploads), so that all of them are read the same way.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "c.yaml")
    >>> _ = open(path, "w").write("budget: 4\\nbudget: 40\\n")
    >>> read_yaml(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    retort.orchestrator.errors.CampaignError: ...c.yaml: key 'budget' at line 2, column 1 is already given at line 1, column 1; keep one of them
"""

from __future__ import annotations

from pathlib import Path

import yaml

from retort.orchestrator.errors import CampaignError

MAX_BYTES = 1 << 20  # a campaign file is a page or two; a megabyte is a mistake (or an attack)
MAX_DEPTH = 32  # campaign files nest four or five levels deep
MAX_NODES = 200_000  # values after expanding YAML aliases (a "billion laughs" file has 10^9)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (YAML says keys are unique;
    PyYAML silently keeps the last one, so `budget: 40 ... budget: 4000` would mean 4000)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[object, str] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            mark = key_node.start_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}"
            try:
                first = seen.setdefault(key, where)
            except TypeError:  # an unhashable key (a list or mapping as a key)
                raise CampaignError(f"{self.name}: {where}: a key must be a plain value, not {type(key).__name__}") from None
            if first != where:
                raise CampaignError(f"{self.name}: key {key!r} at {where} is already given at {first}; keep one of them")
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path) -> object:
    """The data in the YAML file at `path`; raises `CampaignError` naming what is wrong and where."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CampaignError(f"{path}: {size} bytes is too large for a campaign file (at most {MAX_BYTES})")
        raw = path.read_bytes()
    except OSError as exc:
        raise CampaignError(f"cannot read campaign file {path}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CampaignError(
            f"{path}: line {line} is not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from None
    try:
        _check_shape(text, path)
        loader = _UniqueKeyLoader(text)
        loader.name = str(path)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise CampaignError(f"{path}: malformed YAML{at}: {getattr(exc, 'problem', None) or exc}") from exc


def _check_shape(text: str, path: Path) -> None:
    """Refuse deep nesting and alias bombs before anything recursive (PyYAML's composer, pydantic)
    walks the document. Parsing events is iterative, so this cannot itself overflow the stack."""
    nodes = 0
    anchors: dict[str, int] = {}  # anchor -> how many values an alias to it stands for
    open_collections: list[tuple[int, str | None]] = []  # values counted when each opened, its anchor
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_collections) == MAX_DEPTH:
                raise CampaignError(f"{path}: line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
            open_collections.append((nodes, event.anchor))
            nodes += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            start, anchor = open_collections.pop()
            if anchor:
                anchors[anchor] = nodes - start
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            nodes += anchors.get(event.anchor, 1)
        if nodes > MAX_NODES:
            raise CampaignError(f"{path}: more than {MAX_NODES} values (counting what YAML aliases repeat); a campaign file is far smaller")
