"""Mutated campaign files for fuzzing, and the oracle that judges what Retort did with them.

One mutation table drives both the hypothesis strategies (`case_strategy`, used by
`tests/orchestrator/test_campaign_fuzz.py`) and the seeded generator (`random_cases`, used by
`benchmarks/fuzz_campaigns.py`). Every case starts from an example in ``examples/*.yaml``, as
text, and edits the text in place (comments, quoting and layout of everything else are kept):
the YAML is composed into nodes whose marks give each value's span.

Each mutation declares what it does to the file:

- ``INVALID``: Retort must refuse the file with a `RetortError` whose message names the mutated
  field (the key, or the name of the parameter/objective it belongs to), before anything is
  proposed (`load_campaign` or `open_run`).
- ``NEUTRAL``: validity unknown; Retort may run it or refuse it with a `RetortError`, never
  raise anything else.
- ``VALID``: Retort must run it.

A mutation asks a `Picker` for every choice it makes (which value, which replacement), so the
same code is driven by hypothesis (`DrawPicker`, which shrinks), by `random.Random`
(`RandomPicker`) or by a script (`ScriptPicker`, for the named cases in `named_cases`).

"""

from __future__ import annotations

import math
import random
import re
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
INVALID, NEUTRAL, VALID = "invalid", "neutral", "valid"
HUGE_FILE_BYTES = 20 * 2**20  # "very large file": 20 MiB of comments around a valid campaign
DEEP = 5000  # "deeply nested": 5000 levels of lists
CASE_FILE = "campaign.yaml"  # neutral file name: a path must never be what names the field

INT_TAG, FLOAT_TAG, STR_TAG, BOOL_TAG = (f"tag:yaml.org,2002:{t}" for t in ("int", "float", "str", "bool"))

# Every key a campaign file may hold (used to be sure a typo'd key really is unknown).
KNOWN_KEYS = {
    "name", "description", "parameters", "constraints", "objectives", "batch_size", "budget", "initial_design", "seed",
    "planner", "lab", "store", "type", "lower", "upper", "unit", "values", "encoding", "descriptors", "fingerprint_bits",
    "components", "bounds", "terms", "op", "rhs", "goal", "output", "target", "weight", "kind", "wavelengths", "pipettes",
    "plate", "stock_volume", "mix_repetitions", "pipetting_cv", "reader_noise", "nan_readings_at", "function", "noise_sd",
    "dataset", "path", "columns", "noise", "trade_off", "reference_point", "outcome_constraints", "value", "initial_design_method",
    "warm_start", "learning", "keep", "converged", "members", "generate", "elements", "heavy_atoms", "charge", "forbidden", "max_sa",
    "max_ring_size", "per_round", "operators", "approval",
}


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.yaml"))


@lru_cache(maxsize=None)
def example_text(name: str) -> str:
    """An example's text; robot examples switched to the virtual backend (the same file, no robot needed)."""
    text = (EXAMPLES_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    text = text.replace("deck: decks/", f"deck: {EXAMPLES_DIR}/decks/")  # the case's file is written elsewhere
    text = text.replace("path: structures/", f"path: {EXAMPLES_DIR}/structures/")
    text = text.replace("path: data/", f"path: {EXAMPLES_DIR}/data/").replace("file: data/", f"file: {EXAMPLES_DIR}/data/")
    return text.replace("backend: opentrons", "backend: virtual")


# -- choices ---------------------------------------------------------------------------------


class Picker:
    """Where a mutation's choices come from."""

    def choice(self, options: Sequence[Any]) -> Any:
        raise NotImplementedError

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def real(self, lo: float, hi: float) -> float:
        raise NotImplementedError


class RandomPicker(Picker):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choice(self, options):
        return options[self.rng.randrange(len(options))]

    def integer(self, lo, hi):
        return self.rng.randint(lo, hi)

    def real(self, lo, hi):
        return self.rng.uniform(lo, hi)


class DrawPicker(Picker):
    """Choices drawn by hypothesis (inside a composite strategy), so failing cases shrink."""

    def __init__(self, draw) -> None:
        self.draw = draw

    def choice(self, options):
        from hypothesis import strategies as st

        return self.draw(st.sampled_from(list(options)))

    def integer(self, lo, hi):
        from hypothesis import strategies as st

        return self.draw(st.integers(lo, hi))

    def real(self, lo, hi):
        from hypothesis import strategies as st

        return self.draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))


class ScriptPicker(Picker):
    """Plays back a script: each entry is the option to choose (or a predicate over options)."""

    def __init__(self, *script) -> None:
        self.script = list(script)

    def _next(self):
        if not self.script:
            raise LookupError("the script has no entry left for this choice")
        return self.script.pop(0)

    def choice(self, options):
        want = self._next()
        for option in options:
            if (want(option) if callable(want) else option == want):
                return option
        raise LookupError(f"scripted choice {want!r} is not among the options {list(options)[:20]}")

    def integer(self, lo, hi):
        return self._next()

    def real(self, lo, hi):
        return self._next()


# -- the file as text plus composed nodes ------------------------------------------------------


Path_ = tuple  # a path into the document: mapping keys (str) and sequence indices (int)


class Doc:
    """A campaign file's text, its composed node tree (for spans) and its parsed data."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.root = yaml.compose(text, Loader=yaml.SafeLoader)
        self.data = yaml.safe_load(text)
        if not isinstance(self.root, MappingNode) or not isinstance(self.data, dict):
            raise ValueError("a campaign document is a mapping")

    # navigation
    def node(self, path: Path_) -> Node:
        node = self.root
        for key in path:
            if isinstance(key, int):
                node = node.value[key]
            else:
                matches = [v for k, v in node.value if k.value == key]
                if not matches:
                    raise KeyError(path)
                node = matches[-1]
        return node

    def key_node(self, path: Path_) -> ScalarNode:
        parent = self.node(path[:-1])
        return [k for k, _ in parent.value if k.value == path[-1]][-1]

    def get(self, path: Path_, default=None):
        value = self.data
        for key in path:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                return default
        return value

    def walk(self) -> Iterator[tuple[Path_, Node]]:
        def rec(path, node):
            if path:
                yield path, node
            if isinstance(node, MappingNode):
                for k, v in node.value:
                    yield from rec(path + (k.value,), v)
            elif isinstance(node, SequenceNode):
                for i, v in enumerate(node.value):
                    yield from rec(path + (i,), v)

        yield from rec((), self.root)

    def scalars(self, tags=None) -> list[Path_]:
        return [p for p, n in self.walk() if isinstance(n, ScalarNode) and (tags is None or n.tag in tags)]

    def numbers(self) -> list[Path_]:
        return self.scalars({INT_TAG, FLOAT_TAG})

    def collections(self, kind) -> list[Path_]:
        return [p for p, n in self.walk() if isinstance(n, kind)]

    def lab_kind(self) -> Optional[str]:
        return self.get(("lab", "kind"))

    def items(self, section: str) -> list[dict]:
        value = self.data.get(section)
        return value if isinstance(value, list) else []

    # edits: each returns the new text
    def replace(self, path: Path_, new: str) -> str:
        node = self.node(path)
        return self.text[: node.start_mark.index] + new + self.text[_end(node):]

    def rename_key(self, path: Path_, new: str) -> str:
        key = self.key_node(path)
        return self.text[: key.start_mark.index] + new + self.text[key.end_mark.index:]

    def insert_key(self, mapping: Path_, key: str, value: str) -> str:
        node = self.node(mapping)
        if not isinstance(node, MappingNode):
            raise TypeError(mapping)
        return self._append(node, f"{key}: {value}", block_prefix="")

    def append_item(self, sequence: Path_, value: str) -> str:
        node = self.node(sequence)
        if not isinstance(node, SequenceNode):
            raise TypeError(sequence)
        return self._append(node, value, block_prefix="- ")

    def _append(self, node: Node, entry: str, block_prefix: str) -> str:
        t = self.text
        if node.flow_style or not node.value:
            close = node.end_mark.index - 1
            while close > 0 and t[close] not in "}]":
                close -= 1
            sep = ", " if node.value else ""
            return t[:close] + sep + entry + t[close:]
        first = node.value[0][0] if isinstance(node, MappingNode) else node.value[0]
        if block_prefix:  # the column of the "- " before the first item
            col = t.rfind("-", 0, first.start_mark.index) - (t.rfind("\n", 0, first.start_mark.index) + 1)
        else:
            col = first.start_mark.column
        last = node.value[-1][1] if isinstance(node, MappingNode) else node.value[-1]
        eol = t.find("\n", _end(last))
        line = "\n" + " " * col + block_prefix + entry
        return t + line + "\n" if eol == -1 else t[:eol] + line + t[eol:]

    def delete(self, path: Path_) -> Optional[str]:
        """Remove a mapping entry or sequence item; None where the layout makes that unsafe."""
        t = self.text
        parent = self.node(path[:-1])
        if isinstance(parent, MappingNode):
            index = [i for i, (k, _) in enumerate(parent.value) if k.value == path[-1]][-1]
            spans = [(k.start_mark.index, _end(v)) for k, v in parent.value]
        else:
            index = path[-1]
            spans = [(v.start_mark.index, _end(v)) for v in parent.value]
        start, end = spans[index]
        if parent.flow_style:
            if len(spans) == 1:
                return t[:start] + t[end:]
            if index + 1 < len(spans):
                return t[:start] + t[spans[index + 1][0]:]
            return t[: spans[index - 1][1]] + t[end:]
        line_start = t.rfind("\n", 0, start) + 1
        lead = t[line_start:start]
        eol = t.find("\n", end)
        eol = len(t) if eol == -1 else eol + 1
        if lead.strip() == "":  # the entry starts its line: drop its lines
            return t[:line_start] + t[eol:]
        if lead.strip() == "-" and isinstance(parent, SequenceNode):
            return t[:line_start] + t[eol:]
        if lead.strip() == "-" and isinstance(parent, MappingNode) and index + 1 < len(spans):
            return t[:start] + t[spans[index + 1][0]:]  # first key of a "- " item: the next key moves up
        return None

    def top_level_chunks(self) -> tuple[str, list[str]]:
        """The text before the first top-level key, and one chunk of lines per top-level key."""
        t = self.text
        starts = [t.rfind("\n", 0, k.start_mark.index) + 1 for k, _ in self.root.value]
        chunks = [t[a:b] for a, b in zip(starts, starts[1:] + [len(t)])]
        chunks = [c if c.endswith("\n") else c + "\n" for c in chunks]
        return t[: starts[0]], chunks


def _end(node: Node) -> int:
    """Where a node's own text ends (block collections: at their last value, not at the next token)."""
    if isinstance(node, ScalarNode) or node.flow_style or not node.value:
        return node.end_mark.index
    last = node.value[-1][1] if isinstance(node, MappingNode) else node.value[-1]
    return _end(last)


@lru_cache(maxsize=256)
def parse(text: str) -> Doc:
    return Doc(text)


def yaml_number(x: float | int) -> str:
    """A number as YAML 1.1 (PyYAML) reads it back: floats need a dot before their exponent."""
    if isinstance(x, bool) or isinstance(x, int):
        return str(int(x))
    if math.isnan(x):
        return ".nan"
    if math.isinf(x):
        return ".inf" if x > 0 else "-.inf"
    s = repr(float(x))
    if "e" in s:
        mantissa, exp = s.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        s = f"{mantissa}e{'+' if not exp.startswith(('-', '+')) else ''}{exp}"
    return s


def fields_for(doc: Doc, path: Path_) -> tuple[str, ...]:
    """What a refusal may name for a change at `path`: the keys on the way (below the section),
    and the name of the parameter or objective it belongs to."""
    out: list[str] = []
    node = doc.data
    for i, key in enumerate(path):
        if isinstance(key, int):
            item = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                out.append(item["name"])
            if i > 0 and path[i - 1] == "constraints":
                out += ["constraint", "constraints"]
            if i == 1 and i == len(path) - 1:
                out.append(path[0])  # the whole item: "parameters[0]"
            node = item
        else:
            if i > 0 or len(path) == 1:
                out.append(key)
            node = node.get(key) if isinstance(node, dict) else None
    return tuple(dict.fromkeys(out))


# -- cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """What one mutation did: the new file, what a refusal must name, and a short description."""

    text: str | bytes
    fields: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class Mutation:
    name: str
    kind: str  # INVALID | NEUTRAL | VALID
    applies: Callable[[Doc], bool]
    mutate: Callable[[Doc, Picker], Edit]
    safe: bool = False  # keeps a valid file valid: may precede any other mutation
    weight: float = 1.0  # relative frequency in `random_cases`
    in_strategy: bool = True  # False: too slow for property tests (named cases still cover it)


@dataclass(frozen=True)
class Case:
    example: str
    mutations: tuple[str, ...]  # applied in order; the last decides the oracle
    kind: str
    fields: tuple[str, ...]
    detail: str
    data: bytes = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.example}:{'+'.join(self.mutations)}"

    @property
    def mutation(self) -> str:
        return self.mutations[-1]

    def write(self, folder: str | Path, name: str = CASE_FILE) -> Path:
        path = Path(folder) / name
        path.write_bytes(self.data)
        return path

    def preview(self, limit: int = 3000) -> str:
        text = self.data.decode("utf-8", errors="backslashreplace")
        if len(text) <= limit:
            return text
        return text[: limit // 2] + f"\n... [{len(text) - limit} characters left out] ...\n" + text[-limit // 2:]

    def __str__(self) -> str:
        return f"{self.label} [{self.kind}] {self.detail}"


def _encode(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


def apply(example: str, mutations: Sequence[Mutation], pick: Picker, text: Optional[str] = None) -> Case:
    """Apply `mutations` in order to an example (all but the last must be text-valued edits)."""
    text = example_text(example) if text is None else text
    edit = Edit(text, (), "unchanged")
    details = []
    for i, mutation in enumerate(mutations):
        if isinstance(edit.text, bytes):
            raise ValueError(f"{mutations[i - 1].name} produced bytes; it must come last")
        doc = parse(edit.text)
        if not mutation.applies(doc):
            raise ValueError(f"mutation {mutation.name} does not apply to {example}")
        edit = mutation.mutate(doc, pick)
        details.append(edit.detail)
    last = mutations[-1]
    return Case(example=example, mutations=tuple(m.name for m in mutations), kind=last.kind, fields=edit.fields,
                detail="; ".join(details), data=_encode(edit.text))


# -- the mutation table ----------------------------------------------------------------------

NONFINITE = [".nan", ".inf", "-.inf", ".NaN", ".Inf", "-.INF"]
BOOLEANS = ["true", "false", "yes", "no", "on", "True"]
NON_NUMERIC = ["lots", "ten", "'12 uL'", "'1,5'", "abc", "'--'"]
HUGE_INTS = [2**70, 10**30]
COUNT_KEYS = ("budget", "batch_size", "initial_design", "seed")
SAFE_DROP = ("description", "store")
OPTIONAL_TOP = ("description", "store", "planner", "initial_design", "seed", "batch_size", "constraints")
OPTIONAL_LAB = ("wavelengths", "pipettes", "pipetting_cv", "reader_noise", "noise_sd", "output", "columns", "noise",
                "plate", "mix_repetitions")
OPTIONAL_ITEM = ("unit", "encoding", "bounds", "weight")
NESTING_WORDS = ("nest", "nested", "nesting", "deep", "depth", "recursion")
ENCODING_WORDS = ("UTF-8", "utf-8", "UTF8", "utf8", "encoding", "decode", "byte", "bytes")
SIZE_WORDS = ("large", "size", "bytes", "MB", "MiB", "big", "long")
LAB_OPTIONS = {
    "virtual_colour": ("stock_volume", "pipetting_cv", "reader_noise"),
    "virtual_analytic": ("noise_sd",),
}


def _is_count(path: Path_) -> bool:
    return path in {(k,) for k in COUNT_KEYS} or path == ("lab", "mix_repetitions") or path[:2] == ("lab", "wavelengths")


def _replace_site(paths: Callable[[Doc], list[Path_]], values: Callable[[Doc, Path_], list[str]], what: str,
                  extra_fields: tuple[str, ...] = ()) -> tuple[Callable, Callable]:
    """A mutation that replaces the value at one of `paths` with one of `values`."""

    def applies(doc: Doc) -> bool:
        return bool(paths(doc))

    def mutate(doc: Doc, pick: Picker) -> Edit:
        path = pick.choice(paths(doc))
        new = pick.choice(values(doc, path))
        return Edit(doc.replace(path, new), fields_for(doc, path) + extra_fields, f"{_dotted(path)}: {what} {_short(new)}")

    return applies, mutate


def _dotted(path: Path_) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _short(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n // 2] + f"...({len(s)} chars)..." + s[-8:]


def _mutation(name, kind, paths, values, what, **kw) -> Mutation:
    extra = kw.pop("extra_fields", ())
    applies, mutate = _replace_site(paths, values, what, extra)
    return Mutation(name, kind, applies, mutate, **kw)


# -- invalid: values ----------------------------------------------------------------------


def _option_slots(doc: Doc) -> list[tuple[Path_, str]]:
    """Optional number keys not written in the file: (mapping path, key)."""
    slots = [(("lab",), key) for key in LAB_OPTIONS.get(doc.lab_kind(), ()) if doc.get(("lab", key)) is None]
    slots += [(("objectives", i), "weight") for i, o in enumerate(doc.items("objectives")) if isinstance(o, dict) and "weight" not in o]
    return [s for s in slots if isinstance(doc.node(s[0]), MappingNode)]


def _nonfinite_option(doc: Doc, pick: Picker) -> Edit:
    mapping, key = pick.choice(_option_slots(doc))
    token = pick.choice(NONFINITE)
    text = doc.insert_key(mapping, key, token)
    return Edit(text, fields_for(doc, mapping + (key,)) if mapping[0] != "lab" else (key,), f"{_dotted(mapping + (key,))}: added {token}")


def _duplicate_candidates(doc: Doc) -> list[Path_]:
    top = [(k,) for k in ("budget", "batch_size", "seed", "initial_design", "name", "planner") if k in doc.data]
    lab = [("lab", k) for k, v in (doc.get(("lab",)) or {}).items()
           if k != "kind" and isinstance(v, (int, float)) and not isinstance(v, bool)]
    return [p for p in top + lab if isinstance(doc.node(p), ScalarNode)]


def _different(value) -> str:
    if isinstance(value, bool):
        return "false" if value else "true"
    if isinstance(value, int):
        return str(value // 2 if value > 2 else value + 3)
    if isinstance(value, float):
        return yaml_number(value / 2 if value else 0.5)
    if value == "qLogNEI":
        return "random"
    if value == "random":
        return "qLogNEI"
    return f"{value}-other"


def _duplicate_key(doc: Doc, pick: Picker) -> Edit:
    path = pick.choice(_duplicate_candidates(doc))
    new = _different(doc.get(path))
    text = doc.insert_key(path[:-1], path[-1], new)
    return Edit(text, (path[-1],), f"{_dotted(path)} written twice ({doc.get(path)!r}, then {new})")


def _line_starts(doc: Doc) -> list[int]:
    """Offsets where a comment line can go: before any top-level key."""
    return [doc.text.rfind("\n", 0, k.start_mark.index) + 1 for k, _ in doc.root.value]


def _non_utf8(doc: Doc, pick: Picker) -> Edit:
    where = pick.choice(["comment"] + (["description"] if isinstance(doc.data.get("description"), str) else []))
    if where == "comment":
        pos = pick.choice(_line_starts(doc))
        line = doc.text.count("\n", 0, pos) + 1
        data = doc.text[:pos].encode() + "# réglage du mélange\n".encode("latin-1") + doc.text[pos:].encode()
        return Edit(data, ENCODING_WORDS + (f"line {line}",), f"Latin-1 bytes in a comment at line {line}")
    node = doc.node(("description",))
    data = doc.text[: node.start_mark.index].encode() + "'mélange café'".encode("latin-1") + doc.text[_end(node):].encode()
    return Edit(data, ENCODING_WORDS + ("description",), "Latin-1 bytes in description")


def _deep(doc: Doc, pick: Picker) -> Edit:
    path = pick.choice(doc.scalars())
    style = pick.choice(["list", "mapping"])
    depth = pick.choice([DEEP, 20 * DEEP])
    new = "[" * depth + "1" + "]" * depth if style == "list" else "{a: " * depth + "1" + "}" * depth
    return Edit(doc.replace(path, new), fields_for(doc, path) + NESTING_WORDS, f"{_dotted(path)}: {style}s nested {depth} deep")


def _huge_file(doc: Doc, pick: Picker) -> Edit:
    size = pick.choice([HUGE_FILE_BYTES])
    line = "# " + "padding " * 12 + "\n"
    pad = line * (size // len(line) + 1)
    return Edit(doc.text + pad, SIZE_WORDS, f"{(len(doc.text) + len(pad)) / 2**20:.0f} MiB file (comments)")


def _collections(doc: Doc, kind) -> list[Path_]:
    out = []
    for path in doc.collections(kind):
        last = path[-1]
        if last == "values" and doc.get(path[:-1] + ("type",)) == "molecule":
            continue  # a molecule's values may be a list or a mapping
        if last == "target":
            continue  # a target may be a number or a mapping
        out.append(path)
    return out


def _unknown_key_slots(doc: Doc) -> list[Path_]:
    slots = [()]
    if isinstance(doc.node(("lab",)), MappingNode):
        slots.append(("lab",))
    for section in ("parameters", "objectives", "constraints"):
        slots += [(section, i) for i, item in enumerate(doc.items(section)) if isinstance(item, dict)]
    return slots


def _typo(key: str, pick: Picker) -> str:
    how = pick.choice(["swap", "plural", "capital", "drop"])
    if how == "swap" and len(key) > 3:
        i = pick.integer(1, len(key) - 3)
        out = key[:i] + key[i + 1] + key[i] + key[i + 2:]
    elif how == "plural":
        out = key[:-1] if key.endswith("s") else key + "s"
    elif how == "capital":
        out = key[:1].upper() + key[1:]
    else:
        out = key[:-1] if len(key) > 3 else key + "x"
    return out


def _unknown_key(doc: Doc, pick: Picker) -> Edit:
    mapping = pick.choice(_unknown_key_slots(doc))
    present = doc.get(mapping) if mapping else doc.data
    base = pick.choice(sorted(present) + ["colour", "comment", "notes"])
    key = _typo(base, pick) if base in present else base
    if key in KNOWN_KEYS or key in present:
        key = key + "_extra"
    value = pick.choice(["1", "blue", "[1, 2]", "{a: 1}"])
    fields = (key,)
    return Edit(doc.insert_key(mapping, key, value), fields, f"unknown key {_dotted(mapping + (key,))}: {value}")


def _match_objectives(doc: Doc) -> list[int]:
    return [i for i, o in enumerate(doc.items("objectives")) if isinstance(o, dict) and o.get("goal") == "match"]


def _empty_target(doc: Doc, pick: Picker) -> Edit:
    i = pick.choice(list(range(len(doc.items("objectives")))))
    path = ("objectives", i, "target")
    if doc.get(path) is not None:
        text = doc.replace(path, "{}")
    else:
        text = doc.insert_key(("objectives", i), "target", "{}")
    return Edit(text, fields_for(doc, path), f"{_dotted(path)}: {{}}")


def _unknown_reading(doc: Doc, pick: Picker) -> Edit:
    i = pick.choice(list(range(len(doc.items("objectives")))))
    objective = doc.items("objectives")[i]
    reading = pick.choice(["A999", "A431", "absorbance", "yeild", "y2"])
    if isinstance(objective.get("target"), dict) and objective["target"]:
        old = pick.choice(sorted(objective["target"]))
        path = ("objectives", i, "target", old)
        text = doc.rename_key(path, reading)
        detail = f"objectives[{i}].target: reading {old} renamed {reading}"
    elif "output" in objective:
        path = ("objectives", i, "output")
        text = doc.replace(path, reading)
        detail = f"objectives[{i}].output: {reading}"
    else:
        path = ("objectives", i, "output")
        text = doc.insert_key(("objectives", i), "output", reading)
        detail = f"objectives[{i}].output: {reading} (added)"
    return Edit(text, fields_for(doc, path[:3]) + (reading,), detail)


def _is_colour(doc: Doc) -> bool:
    return doc.lab_kind() == "virtual_colour" and isinstance(doc.node(("lab",)), MappingNode)


def _wavelength(doc: Doc, pick: Picker) -> Edit:
    nm = pick.choice([0, -5, 229, 1001, 1200, 100000])
    if isinstance(doc.get(("lab", "wavelengths")), list) and isinstance(doc.node(("lab", "wavelengths")), SequenceNode):
        text = doc.append_item(("lab", "wavelengths"), str(nm))
    else:
        text = doc.insert_key(("lab",), "wavelengths", f"[430, 520, {nm}]")
    return Edit(text, ("wavelengths", "wavelength"), f"lab.wavelengths: added {nm} nm")


def _stock_volume(doc: Doc, pick: Picker) -> Edit:
    value = pick.choice([".inf", "15001", "20000", "1.0e+9", "0", "-100"])
    if doc.get(("lab", "stock_volume")) is not None:
        text = doc.replace(("lab", "stock_volume"), value)
    else:
        text = doc.insert_key(("lab",), "stock_volume", value)
    return Edit(text, ("stock_volume",), f"lab.stock_volume: {value} (the reservoir holds 15000 uL)")


def _pipette_sites(doc: Doc) -> list[Path_]:
    if isinstance(doc.get(("lab", "pipettes")), list) and isinstance(doc.node(("lab", "pipettes")), SequenceNode):
        return [("lab", "pipettes", i) for i in range(len(doc.get(("lab", "pipettes"))))]
    return []


def _unknown_pipette(doc: Doc, pick: Picker) -> Edit:
    name = pick.choice(["p1000_single_gen9", "p20_multi_gen2", "flex_8channel_50", "P20_SINGLE_GEN2"])
    sites = _pipette_sites(doc)
    if sites:
        path = pick.choice(sites)
        text = doc.replace(path, name)
    else:
        text = doc.insert_key(("lab",), "pipettes", f"[{name}, p300_single_gen2]")
    return Edit(text, ("pipettes", name), f"lab.pipettes: {name}")


def _flex_pipette(doc: Doc, pick: Picker) -> Edit:
    flex = "[flex_1channel_50, flex_1channel_1000]"
    if doc.get(("lab", "pipettes")) is not None:
        text = doc.replace(("lab", "pipettes"), flex)
    else:
        text = doc.insert_key(("lab",), "pipettes", flex)
    return Edit(text, (), "lab.pipettes: a Flex's pipettes (1-50 and 5-1000 uL): the default deck becomes a Flex deck")


def _mixed_robot_pipettes(doc: Doc, pick: Picker) -> Edit:
    sites = [p for p in _pipette_sites(doc) if doc.get(p) == "p20_single_gen2"]
    if sites:
        text = doc.replace(sites[0], "flex_1channel_50")
    else:
        text = doc.insert_key(("lab",), "pipettes", "[flex_1channel_50, p300_single_gen2]")
    return Edit(text, ("pipettes", "flex_1channel_50"), "lab.pipettes: a Flex pipette beside an OT-2 one")


def _lookup_grid(doc: Doc) -> bool:
    return doc.lab_kind() == "dataset_lookup" and isinstance(doc.node(("budget",)), ScalarNode) if "budget" in doc.data else False


def _grid_size(doc: Doc) -> int:
    size = 1
    for p in doc.items("parameters"):
        values = p.get("values") if isinstance(p, dict) else None
        size *= len(values) if isinstance(values, (list, dict)) else 1
    return size


def _budget_over_grid(doc: Doc, pick: Picker) -> Edit:
    budget = pick.choice([_grid_size(doc) + 1, 100_000])
    return Edit(doc.replace(("budget",), str(budget)), ("budget",),
                f"budget: {budget} (the grid has {_grid_size(doc)} combinations)")


def _initial_design_huge(doc: Doc, pick: Picker) -> Edit:
    value = pick.choice([1_000_000])
    if "initial_design" in doc.data:
        text = doc.replace(("initial_design",), str(value))
    else:
        text = doc.insert_key((), "initial_design", str(value))
    return Edit(text, ("initial_design",), f"initial_design: {value} (budget {doc.data.get('budget')})")


def _integer_equality_applies(doc: Doc) -> bool:
    params = doc.items("parameters")
    numeric = [i for i, p in enumerate(params) if isinstance(p, dict) and p.get("type") == "continuous"
               and all(isinstance(p.get(b), int) and not isinstance(p.get(b), bool) for b in ("lower", "upper"))]
    return doc.lab_kind() == "virtual_analytic" and len(numeric) >= 2 and "constraints" not in doc.data


def _integer_equality(doc: Doc, pick: Picker) -> Edit:
    params = doc.items("parameters")
    numeric = [i for i, p in enumerate(params) if p.get("type") == "continuous"][:2]
    a, b = (params[i]["name"] for i in numeric)
    terms, rhs = pick.choice([((1, 1), "2.5"), ((2, 2), "3"), ((1, -1), "0.5")])
    text = doc.text
    for i in sorted(numeric, reverse=True):  # edit from the end so earlier spans stay valid
        node = parse(text).node(("parameters", i, "type"))
        text = text[: node.start_mark.index] + "integer" + text[_end(node):]
    constraint = f'[{{terms: {{{a}: {terms[0]}, {b}: {terms[1]}}}, op: "==", rhs: {rhs}}}]'
    text = parse(text).insert_key((), "constraints", constraint)
    return Edit(text, ("constraints", "constraint"), f"{a}, {b} integer; {terms[0]}*{a} + {terms[1]}*{b} == {rhs}")


def _molecule_sites(doc: Doc) -> list[Path_]:
    out = []
    for i, p in enumerate(doc.items("parameters")):
        if isinstance(p, dict) and p.get("type") == "molecule" and isinstance(p.get("values"), list):
            out += [("parameters", i, "values", j) for j in range(len(p["values"]))]
    return out


def _composition_sites(doc: Doc) -> list[Path_]:
    out = []
    for i, p in enumerate(doc.items("parameters")):
        if isinstance(p, dict) and p.get("type") == "composition" and isinstance(p.get("components"), list):
            out += [("parameters", i, "components", j) for j in range(len(p["components"]))]
    return out


# -- neutral -------------------------------------------------------------------------------


def _reorder(doc: Doc, pick: Picker) -> Edit:
    head, chunks = doc.top_level_chunks()
    order = list(range(len(chunks)))
    shuffled = []
    while order:  # a permutation drawn one position at a time (shrinks towards the original order)
        shuffled.append(order.pop(pick.integer(0, len(order) - 1)))
    text = head + "".join(chunks[i] for i in shuffled)
    names = [doc.root.value[i][0].value for i in shuffled]
    return Edit(text, (), f"top-level keys reordered: {', '.join(names)}")


def _change_seed(doc: Doc, pick: Picker) -> Edit:
    seed = pick.integer(0, 2**31 - 1)
    text = doc.replace(("seed",), str(seed)) if "seed" in doc.data else doc.insert_key((), "seed", str(seed))
    return Edit(text, ("seed",), f"seed: {seed}")


def _add_comment(doc: Doc, pick: Picker) -> Edit:
    pos = pick.choice(_line_starts(doc))
    return Edit(doc.text[:pos] + "# a note: budget, seed and lab unchanged\n" + doc.text[pos:], (), "comment line added")


def _droppable(doc: Doc, keys_top, keys_lab, keys_item) -> list[Path_]:
    out = [(k,) for k in keys_top if k in doc.data]
    out += [("lab", k) for k in keys_lab if isinstance(doc.get(("lab",)), dict) and k in doc.get(("lab",))]
    for section in ("parameters", "objectives"):
        out += [(section, i, k) for i, item in enumerate(doc.items(section)) if isinstance(item, dict) for k in keys_item if k in item]
    return [p for p in out if doc.delete(p) is not None]


def _drop(keys_top, keys_lab, keys_item):
    def mutate(doc: Doc, pick: Picker) -> Edit:
        path = pick.choice(_droppable(doc, keys_top, keys_lab, keys_item))
        return Edit(doc.delete(path), fields_for(doc, path), f"{_dotted(path)} removed")

    return (lambda doc: bool(_droppable(doc, keys_top, keys_lab, keys_item))), mutate


def _perturbed(doc: Doc, path: Path_) -> list[str]:
    value = doc.get(path)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ["1"]
    if isinstance(value, int):
        options = {value + 1, max(value - 1, 0), value * 2, max(value // 2, 1), 0, 1}
        return [str(v) for v in sorted(options)]
    options = [value * f for f in (0.5, 0.9, 1.1, 2.0)] + [0.0, 1e-300, 1e300, -value]
    return [yaml_number(v) for v in options]


def _quote_number(doc: Doc, path: Path_) -> list[str]:
    return [f'"{doc.get(path)}"', f"'{doc.get(path)}'"]


def _retype_sites(doc: Doc) -> list[Path_]:
    return [("parameters", i, "type") for i, p in enumerate(doc.items("parameters"))
            if isinstance(p, dict) and p.get("type") == "continuous"]


def _encoding_sites(doc: Doc) -> list[Path_]:
    return [("parameters", i, "encoding") for i, p in enumerate(doc.items("parameters"))
            if isinstance(p, dict) and p.get("type") in ("molecule", "composition") and "encoding" in p]


def _encodings(doc: Doc, path: Path_) -> list[str]:
    if doc.get(path[:-1] + ("type",)) == "composition":
        return ["fractions", "descriptors"]
    return ["onehot", "morgan", "morgan_count", "descriptors"]


def _list_items(doc: Doc) -> list[Path_]:
    out = []
    for path, node in doc.walk():
        if isinstance(node, SequenceNode) and len(node.value) >= 2 and path[-1] in (
                "values", "wavelengths", "pipettes", "parameters", "constraints", "components"):
            out += [path + (i,) for i in range(len(node.value))]
    return [p for p in out if doc.delete(p) is not None]


def _drop_item(doc: Doc, pick: Picker) -> Edit:
    path = pick.choice(_list_items(doc))
    return Edit(doc.delete(path), fields_for(doc, path), f"{_dotted(path)} ({_short(str(doc.get(path)))}) removed")


def _duplicate_item(doc: Doc, pick: Picker) -> Edit:
    path = pick.choice([p for p, n in doc.walk() if isinstance(n, SequenceNode) and n.value])
    i = pick.integer(0, len(doc.node(path).value) - 1)
    node = doc.node(path + (i,))
    item = doc.text[node.start_mark.index:_end(node)]
    if not isinstance(node, ScalarNode) and not node.flow_style:
        item = yaml.safe_dump(doc.get(path + (i,)), default_flow_style=True, width=10**9).strip()
    return Edit(doc.append_item(path, item), fields_for(doc, path), f"{_dotted(path)}: item {i} listed twice")


def _empty(doc: Doc, path: Path_) -> list[str]:
    return ["[]"] if isinstance(doc.node(path), SequenceNode) else ["{}"]


def _bom(doc: Doc, pick: Picker) -> Edit:
    return Edit(b"\xef\xbb\xbf" + doc.text.encode(), (), "UTF-8 byte-order mark at the start")


def _alias_reuse(doc: Doc, pick: Picker) -> Edit:
    numbers = [p for p in doc.numbers() if isinstance(doc.node(p), ScalarNode)]
    source = pick.choice(numbers)
    target = pick.choice([p for p in numbers if p != source] or numbers)
    s, t = doc.node(source), doc.node(target)
    if t.start_mark.index < s.start_mark.index:  # an alias must come after its anchor
        s, t, source, target = t, s, target, source
    text = (doc.text[: s.start_mark.index] + "&n1 " + doc.text[s.start_mark.index: t.start_mark.index] + "*n1"
            + doc.text[_end(t):])
    return Edit(text, (), f"{_dotted(target)}: alias of {_dotted(source)}")


def _alias_bomb(doc: Doc, pick: Picker) -> Edit:
    levels = pick.choice([9, 12])
    lines = ["x-lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x-lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels)]
    key = f"x-lol{levels - 1}"
    return Edit(doc.text.rstrip("\n") + "\n" + "\n".join(lines) + "\n", SIZE_WORDS + ("alias", "aliases", "values", "x-lol0"),
                f"billion-laughs aliases: 10^{levels} values under {key}")


def _identity(doc: Doc, pick: Picker) -> Edit:
    return Edit(doc.text, (), "unmodified")


def _top(key):
    return lambda doc: [(key,)] if key in doc.data and isinstance(doc.node((key,)), ScalarNode) else []


MUTATIONS: list[Mutation] = [
    # invalid: numbers
    _mutation("nonfinite_number", INVALID, lambda d: d.numbers(), lambda d, p: NONFINITE, "non-finite"),
    Mutation("nonfinite_option", INVALID, lambda d: bool(_option_slots(d)), _nonfinite_option),
    _mutation("bool_for_number", INVALID, lambda d: d.numbers(), lambda d, p: BOOLEANS, "boolean"),
    _mutation("huge_integer", INVALID, lambda d: [p for p in d.scalars({INT_TAG}) if _is_count(p)],
              lambda d, p: [str(v) for v in HUGE_INTS], "huge integer"),
    _mutation("nonpositive_count", INVALID, lambda d: [p for p in d.scalars({INT_TAG}) if p in {("budget",), ("batch_size",), ("initial_design",)}],
              lambda d, p: ["-1", "-8"] if p == ("initial_design",) else ["0", "-1", "-40"], "non-positive"),
    _mutation("string_for_number", INVALID, lambda d: d.numbers(), lambda d, p: NON_NUMERIC, "text"),
    # invalid: structure
    Mutation("duplicate_key", INVALID, lambda d: bool(_duplicate_candidates(d)), _duplicate_key),
    Mutation("non_utf8", INVALID, lambda d: True, _non_utf8),
    Mutation("deep_nesting", INVALID, lambda d: True, _deep),
    Mutation("huge_file", INVALID, lambda d: True, _huge_file, weight=0.15, in_strategy=False),
    _mutation("list_for_mapping", INVALID, lambda d: _collections(d, MappingNode), lambda d, p: ["[1, 2]", "[]"], "list"),
    _mutation("mapping_for_list", INVALID, lambda d: _collections(d, SequenceNode), lambda d, p: ["{a: 1}", "{}"], "mapping"),
    _mutation("scalar_for_collection", INVALID, lambda d: _collections(d, MappingNode) + _collections(d, SequenceNode),
              lambda d, p: ["5", "blue"], "scalar"),
    Mutation("unknown_key", INVALID, lambda d: True, _unknown_key),
    # invalid: meaning
    Mutation("empty_target", INVALID, lambda d: bool(d.items("objectives")) and isinstance(d.node(("objectives",)), SequenceNode)
             and all(isinstance(o, dict) for o in d.items("objectives")), _empty_target),
    Mutation("unknown_reading", INVALID, lambda d: bool(d.items("objectives")) and all(isinstance(o, dict) for o in d.items("objectives")),
             _unknown_reading),
    Mutation("wavelength_out_of_range", INVALID, _is_colour, _wavelength),
    Mutation("stock_volume_out_of_range", INVALID, _is_colour, _stock_volume),
    Mutation("unknown_pipette", INVALID, _is_colour, _unknown_pipette),
    Mutation("initial_design_huge", INVALID, lambda d: isinstance(d.data.get("budget"), int), _initial_design_huge),
    Mutation("budget_over_grid", INVALID, _lookup_grid, _budget_over_grid),
    Mutation("integer_equality", INVALID, _integer_equality_applies, _integer_equality),
    _mutation("invalid_smiles", INVALID, _molecule_sites, lambda d, p: ["C1CC", "'Brc1cccnc1('", "XYZ", "C(C)(C)(C)(C)C", "c1ccccc"],
              "SMILES"),
    _mutation("unknown_element", INVALID, _composition_sites, lambda d, p: ["Qq", "Xx", "Zz", "Aa"], "element"),
    # neutral
    Mutation("reorder_keys", NEUTRAL, lambda d: len(d.root.value) > 1, _reorder, safe=True),
    Mutation("change_seed", NEUTRAL, lambda d: True, _change_seed, safe=True),
    Mutation("add_comment", NEUTRAL, lambda d: True, _add_comment, safe=True),
    Mutation("drop_safe_key", NEUTRAL, *_drop(SAFE_DROP, (), ()), safe=True),
    Mutation("drop_optional_key", NEUTRAL, *_drop(OPTIONAL_TOP, OPTIONAL_LAB, OPTIONAL_ITEM)),
    _mutation("perturb_number", NEUTRAL, lambda d: d.numbers(), _perturbed, "changed to"),
    _mutation("quote_number", NEUTRAL, lambda d: d.numbers(), _quote_number, "quoted"),
    _mutation("small_budget", NEUTRAL, _top("budget"), lambda d, p: [str(v) for v in range(1, 13)], "small"),
    _mutation("change_batch_size", NEUTRAL, _top("batch_size"), lambda d, p: [str(v) for v in range(1, 13)], "changed to"),
    _mutation("change_initial_design", NEUTRAL, _top("initial_design"), lambda d, p: [str(v) for v in range(0, 17)], "changed to"),
    _mutation("change_planner", NEUTRAL, _top("planner"), lambda d, p: ["random", "qLogNEI"], "changed to"),
    _mutation("change_encoding", NEUTRAL, _encoding_sites, _encodings, "changed to"),
    _mutation("integer_parameter", NEUTRAL, _retype_sites, lambda d, p: ["integer"], "changed to"),
    Mutation("drop_list_item", NEUTRAL, lambda d: bool(_list_items(d)), _drop_item),
    Mutation("duplicate_list_item", NEUTRAL, lambda d: any(isinstance(n, SequenceNode) and n.value for _, n in d.walk()),
             _duplicate_item),
    _mutation("empty_collection", NEUTRAL, lambda d: d.collections(MappingNode) + d.collections(SequenceNode), _empty, "emptied:"),
    _mutation("null_value", NEUTRAL, lambda d: [p for p, _ in d.walk()], lambda d, p: ["null", "~", ""], "null:"),
    Mutation("utf8_bom", NEUTRAL, lambda d: True, _bom, weight=0.3),
    Mutation("alias_reuse", NEUTRAL, lambda d: len(d.numbers()) >= 2, _alias_reuse),
    Mutation("alias_bomb", INVALID, lambda d: True, _alias_bomb),
    # valid
    Mutation("identity", VALID, lambda d: True, _identity, weight=0.3),
    Mutation("flex_pipette", VALID, _is_colour, _flex_pipette),
    Mutation("mixed_robot_pipettes", INVALID, _is_colour, _mixed_robot_pipettes),
]
BY_NAME = {m.name: m for m in MUTATIONS}
SAFE = [m for m in MUTATIONS if m.safe]


def applicable(text: str, mutations: Optional[Sequence[Mutation]] = None) -> list[Mutation]:
    doc = parse(text)
    return [m for m in (MUTATIONS if mutations is None else mutations) if m.applies(doc)]


def _prefix(example: str, mutations: Sequence[Mutation], pick: Picker) -> tuple[str, list[Mutation]]:
    """Apply safe mutations (skipping any that no longer apply); returns the text and those applied."""
    text, applied = example_text(example), []
    for m in mutations:
        doc = parse(text)
        if m.applies(doc):
            text = m.mutate(doc, pick).text
            applied.append(m)
    return text, applied


def random_case(rng: random.Random, examples: Optional[Sequence[str]] = None, max_prefix: int = 2) -> Case:
    """One case from the seeded generator: an example, up to `max_prefix` safe edits, one mutation."""
    pick = RandomPicker(rng)
    example = pick.choice(list(examples or example_names()))
    text, prefix = _prefix(example, [pick.choice(SAFE) for _ in range(rng.choice([0, 0, 1, max_prefix]))], pick)
    options = applicable(text)
    last = rng.choices(options, weights=[m.weight for m in options])[0]
    case = apply(example, [last], pick, text=text)
    return Case(example, tuple(m.name for m in prefix) + case.mutations, case.kind, case.fields,
                "; ".join([f"({m.name})" for m in prefix] + [case.detail]), case.data)


def random_cases(n: int, seed: int = 0, examples: Optional[Sequence[str]] = None) -> list[Case]:
    rng = random.Random(seed)
    return [random_case(rng, examples) for _ in range(n)]


def case_strategy(examples: Optional[Sequence[str]] = None, kinds: Sequence[str] = (INVALID, NEUTRAL, VALID),
                  max_prefix: int = 2):
    """A hypothesis strategy of cases (mutations with ``in_strategy=False`` left out)."""
    from hypothesis import strategies as st

    names = list(examples or example_names())

    @st.composite
    def cases(draw):
        pick = DrawPicker(draw)
        example = pick.choice(names)
        text, prefix = _prefix(example, draw(st.lists(st.sampled_from(SAFE), max_size=max_prefix)), pick)
        options = [m for m in applicable(text) if m.in_strategy and m.kind in kinds]
        last = pick.choice(options)
        case = apply(example, [last], pick, text=text)
        return Case(example, tuple(m.name for m in prefix) + case.mutations, case.kind, case.fields,
                    "; ".join([f"({m.name})" for m in prefix] + [case.detail]), case.data)

    return cases()


# -- named cases (one per class the reliability report listed) ------------------------------


def _is(path):
    return lambda p: p == path


NAMED: dict[str, tuple[str, str, tuple]] = {
    # name: (example, mutation, script for the picker)
    "nan_parameter_bound": ("colour_match", "nonfinite_number", (("parameters", 0, "lower"), ".nan")),
    "inf_parameter_bound": ("branin", "nonfinite_number", (("parameters", 0, "upper"), ".inf")),
    "neg_inf_parameter_bound": ("snar_emulated", "nonfinite_number", (("parameters", 3, "lower"), "-.inf")),
    "nan_composition_bound": ("alloy_hardness_emulated", "nonfinite_number", (("parameters", 0, "bounds", "Al", 1), ".nan")),
    "nan_target_value": ("colour_match", "nonfinite_number", (("objectives", 0, "target", "A430"), ".nan")),
    "inf_constraint_rhs": ("colour_match", "nonfinite_number", (("constraints", 0, "rhs"), ".inf")),
    "nan_constraint_term": ("colour_match", "nonfinite_number", (("constraints", 1, "terms", "red"), ".nan")),
    "inf_weight": ("colour_match", "nonfinite_option", ((("objectives", 0), "weight"), ".inf")),
    "nan_stock_volume": ("colour_match", "nonfinite_option", ((("lab",), "stock_volume"), ".nan")),
    "inf_stock_volume": ("colour_match", "stock_volume_out_of_range", (".inf",)),
    "stock_volume_beyond_reservoir": ("colour_match", "stock_volume_out_of_range", ("15001",)),
    "nan_noise_sd": ("branin", "nonfinite_number", (("lab", "noise_sd"), ".nan")),
    "inf_reader_noise": ("colour_match", "nonfinite_number", (("lab", "reader_noise"), ".inf")),
    "budget_true": ("branin", "bool_for_number", (("budget",), "true")),
    "batch_size_yes": ("colour_match", "bool_for_number", (("batch_size",), "yes")),
    "target_value_true": ("colour_match", "bool_for_number", (("objectives", 0, "target", "A520"), "true")),
    "huge_seed": ("colour_match", "huge_integer", (("seed",), str(2**70))),
    "huge_budget": ("branin", "huge_integer", (("budget",), str(10**30))),
    "zero_budget": ("branin", "nonpositive_count", (("budget",), "0")),
    "negative_budget": ("colour_match", "nonpositive_count", (("budget",), "-40")),
    "zero_batch_size": ("colour_match", "nonpositive_count", (("batch_size",), "0")),
    "negative_batch_size": ("branin", "nonpositive_count", (("batch_size",), "-1")),
    "duplicate_budget": ("colour_match", "duplicate_key", (("budget",),)),
    "duplicate_key_on_one_line": ("branin", "duplicate_key", (("lab", "noise_sd"),)),
    "latin1_comment": ("colour_match", "non_utf8", ("comment", lambda pos: pos > 0)),
    "deep_nested_list": ("branin", "deep_nesting", (("seed",), "list", DEEP)),
    "huge_file": ("branin", "huge_file", (HUGE_FILE_BYTES,)),
    "alias_bomb": ("branin", "alias_bomb", (9,)),
    "string_for_budget": ("branin", "string_for_number", (("budget",), "lots")),
    "string_for_bound": ("colour_match", "string_for_number", (("parameters", 1, "upper"), "'12 uL'")),
    "list_for_lab_mapping": ("branin", "list_for_mapping", (("lab",), "[1, 2]")),
    "list_for_parameter": ("colour_match", "list_for_mapping", (("parameters", 0), "[1, 2]")),
    "mapping_for_parameters_list": ("branin", "mapping_for_list", (("parameters",), "{a: 1}")),
    "mapping_for_wavelengths": ("colour_match", "mapping_for_list", (("lab", "wavelengths"), "{a: 1}")),
    "unknown_top_level_key": ("branin", "unknown_key", ((), "budget", "swap", 1, "1")),
    "unknown_lab_key": ("colour_match", "unknown_key", (("lab",), "reader_noise", "plural", "1")),
    "empty_target": ("colour_match", "empty_target", (0,)),
    "target_reading_not_produced": ("colour_match", "unknown_reading", (0, "A999", "A430")),
    "wavelength_below_230": ("colour_match", "wavelength_out_of_range", (229,)),
    "wavelength_above_1000": ("colour_match", "wavelength_out_of_range", (1200,)),
    "unknown_pipette": ("colour_match", "unknown_pipette", ("p1000_single_gen9", ("lab", "pipettes", 0))),
    "flex_pipette_on_colour_lab": ("colour_match", "flex_pipette", ()),
    "initial_design_over_budget": ("colour_match", "initial_design_huge", (1_000_000,)),
    "budget_over_buchwald_grid": ("buchwald_hartwig", "budget_over_grid", (3961,)),
    "budget_over_suzuki_grid": ("suzuki", "budget_over_grid", (3697,)),
    "integer_equality_unsatisfiable": ("branin", "integer_equality", (((1, 1), "2.5"),)),
    "invalid_smiles": ("suzuki", "invalid_smiles", (("parameters", 4, "values", 1), "C1CC")),
    "unknown_element": ("alloy_hardness_emulated", "unknown_element", (("parameters", 0, "components", 1), "Qq")),
}


def named_case(name: str) -> Case:
    example, mutation, script = NAMED[name]
    return apply(example, [BY_NAME[mutation]], ScriptPicker(*script))


def named_cases() -> dict[str, Case]:
    return {name: named_case(name) for name in NAMED}


# -- the oracle ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What happened to one case: ran, refused (a RetortError) or error (anything else)."""

    status: str  # "ran" | "refused" | "error"
    stage: str  # load | open | propose | run (in-process); cli; or where it stopped
    message: str  # the refusal's message, or the traceback/output of an error
    exception: str = ""

    @property
    def first_line(self) -> str:
        lines = [ln for ln in self.message.strip().splitlines() if ln.strip()]
        if self.status == "error" and lines and lines[0].startswith("Traceback"):
            lines = lines[-1:]
        return lines[0] if lines else "(no message)"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    label: str  # ran | refused | traceback | accepted invalid | refused late | refused without naming the field | valid case refused
    reason: str


def names_a_field(message: str, fields: Sequence[str]) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(f)}(?![A-Za-z0-9_])", message) for f in fields)


def judge(case: Case, outcome: Outcome, early_stages: Sequence[str] = ("load", "open")) -> Verdict:
    """The oracle. Invalid: refused by a RetortError naming the field, at `early_stages`.
    Neutral: ran or refused by a RetortError. Valid: ran. Anything but a RetortError is a bug."""
    if outcome.status == "error":
        return Verdict(False, "traceback", f"{outcome.exception} at {outcome.stage}: {outcome.first_line}")
    if case.kind == INVALID:
        if outcome.status == "ran":
            return Verdict(False, "accepted invalid", f"ran, but the file is invalid ({case.detail})")
        if outcome.stage not in early_stages:
            return Verdict(False, "refused late",
                           f"refused only at {outcome.stage}, after the campaign was accepted: {outcome.first_line}")
        if not names_a_field(outcome.message, case.fields):
            return Verdict(False, "refused without naming the field",
                           f"the message names none of {list(case.fields)}: {outcome.message.strip()[:300]}")
        return Verdict(True, "refused", outcome.first_line)
    if case.kind == VALID and outcome.status != "ran":
        return Verdict(False, "valid case refused", f"{outcome.exception} at {outcome.stage}: {outcome.first_line}")
    return Verdict(True, outcome.status, outcome.first_line)


def run_in_process(path: str | Path, store_url: str) -> Outcome:
    """Load, open on `store_url`, then one iteration: fit, propose (checked), approve, execute, measure, record."""
    from retort.errors import RetortError
    import retort.orchestrator.flows.campaign  # noqa: F401  as 'retort run' does: computational labs fan out as Prefect tasks
    from retort.orchestrator import loop
    from retort.orchestrator.campaign import load_campaign
    from retort.orchestrator.store import Store

    path = str(path)
    stage, store = "load", None
    try:
        campaign = load_campaign(path)
        stage = "open"
        for source in campaign.warm_start:  # an example warm-started from another runs after it, into the same store
            ran = run_in_process(_example_named(source, Path(path).parent), store_url)
            if ran.status != "ran":
                return Outcome(ran.status, "open", f"warm-start source {source!r}: {ran.message}", ran.exception)
        store = Store(store_url)
        run = loop.open_run(campaign, store=store)
        stage = "propose"
        model = loop.fit(run, 1)
        n = min(campaign.batch_size, loop.remaining(run))
        batch = loop.propose(run, 1, model, n)
        if len(batch) != n:
            return Outcome("error", stage, f"asked for {n} proposals, got {len(batch)}", "WrongBatch")
        outside = [e.params for e in batch if not run.space.is_feasible(e.params)]
        if outside:
            return Outcome("error", stage, f"proposed points outside the search space: {outside[:2]}", "InfeasibleProposal")
        stage = "run"
        batch = loop.approve(run, batch)
        loop.record(run, batch, loop.measure(run, batch, loop.execute(run, batch)))
    except RetortError as exc:
        return Outcome("refused", stage, _unpath(str(exc), path), type(exc).__name__)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - anything else is what the fuzzer is looking for
        return Outcome("error", stage, _unpath(traceback.format_exc(), path), type(exc).__name__)
    finally:
        engine = getattr(store, "engine", None)
        if engine is not None:
            engine.dispose()
    return Outcome("ran", stage, "")


def _example_named(name: str, folder: Path) -> Path:
    """The example whose campaign is `name`, written to `folder` as `example_text` gives it (a warm start's source)."""
    for example in example_names():
        text = example_text(example)
        if yaml.safe_load(text).get("name") == name:
            path = folder / f"source-{example}.yaml"
            path.write_text(text, encoding="utf-8")
            return path
    raise LookupError(f"no example is campaign {name!r}")


def _unpath(message: str, path: str) -> str:
    """The message without the case file's path (a path must not be what names a field)."""
    return message.replace(str(Path(path).resolve()), "FILE").replace(path, "FILE")
