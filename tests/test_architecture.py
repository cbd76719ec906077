"""The house rules of docs/architecture.md, read from the code's own imports (every `import` statement, at any depth,
TYPE_CHECKING blocks included): which package of `retort.orchestrator` may import which, where SQLModel, SQLAlchemy,
Prefect and torch may be imported, and no import circles between modules or between packages."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = {"orchestrator", "agents", "instruments", "surrogates", "simulators"}

# What each package of orchestrator/ may import of the others (docs/architecture.md). Its own modules, the package
# `errors`, and the project's other top-level packages are not listed (see OUTSIDE).
MAY_IMPORT = {
    "campaign": set(),
    "store": {"campaign"},
    "labs": {"campaign", "store"},
    "decisions": {"campaign", "store", "labs"},
    "loop": {"campaign", "store", "labs", "decisions"},
    "flows": {"campaign", "store", "labs", "decisions", "loop"},
    "ui": {"campaign", "store", "labs", "decisions", "loop"},
    "cli": {"campaign", "store", "labs", "decisions", "loop", "flows", "ui"},
}
OUTSIDE = {  # what the project's top-level packages may import of each other
    "instruments": set(),
    "surrogates": set(),
    "simulators": {"instruments", "surrogates"},
    "agents": {"surrogates"},
    "orchestrator": TOP - {"orchestrator"},
}


def modules() -> dict[str, Path]:
    """Every module of the project's packages, by import name (``retort.orchestrator.loop.steps``)."""
    found = {}
    for top in TOP:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(("retort",) + parts[:-1] if parts[-1] == "__init__" else ("retort",) + parts)
            found[name] = path
    return found


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


MODULES = modules()
GRAPH = {name: {i for i in imports(path) if i in MODULES and i != name} for name, path in MODULES.items()}


def package(module: str) -> str:
    """``orchestrator/loop`` for ``retort.orchestrator.loop.steps``; ``agents`` for ``retort.agents.space``."""
    parts = module.split(".")[1:]
    if parts[0] == "orchestrator" and len(parts) > 1 and (ROOT / "orchestrator" / parts[1]).is_dir():
        return f"orchestrator/{parts[1]}"
    return parts[0]


def test_each_package_imports_only_what_the_architecture_allows():
    wrong = []
    for module, targets in GRAPH.items():
        here = package(module)
        for target in targets:
            there = package(target)
            if there == here or there == "orchestrator" and target == "retort.orchestrator.errors":
                continue
            if here.startswith("orchestrator/") and there.startswith("orchestrator/"):
                allowed = there.split("/")[1] in MAY_IMPORT[here.split("/")[1]]
            else:
                allowed = there.split("/")[0] in OUTSIDE[here.split("/")[0]] or there.split("/")[0] == here.split("/")[0]
            if not allowed:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


@pytest.mark.parametrize("library, home", [("sqlmodel", "orchestrator/store"), ("sqlalchemy", "orchestrator/store"),
                                           ("alembic", "orchestrator/store"), ("prefect", "orchestrator/flows")])
def test_a_library_is_imported_only_in_its_home(library, home):
    outside = [m for m, path in MODULES.items()
               if any(i == library or i.startswith(f"{library}.") for i in imports(path)) and package(m) != home]
    assert not outside, f"{library} is imported outside {home}: {outside}"


@pytest.mark.parametrize("start", ["retort.orchestrator.campaign.results", "retort.orchestrator.store.core", "retort.orchestrator.ui.pages",
                                   "retort.orchestrator.cli.campaigns"])
def test_naming_the_best_never_loads_torch(start):
    """`retort status` and the UI name the best without loading a model: what these modules load when imported
    (their imports outside functions, and their packages' `__init__`s) never imports torch, BoTorch or GPyTorch."""
    seen, todo, users = set(), [start], []
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        loaded = _loaded_imports(MODULES[module]) | {".".join(parts[:i]) for i in range(2, len(parts))}  # parent packages load first
        if any(i.split(".")[0] in ("torch", "botorch", "gpytorch") for i in loaded):
            users.append(module)
        todo += [i for i in loaded if i in MODULES]
    assert not users, f"{start} loads torch through {sorted(users)}"


def _loaded_imports(path: Path) -> set[str]:
    """What importing the module imports: its imports outside functions and `if TYPE_CHECKING` blocks."""
    names: set[str] = set()
    body = list(ast.parse(path.read_text()).body)
    while body:
        node = body.pop()
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            body += node.body + node.orelse
        elif isinstance(node, ast.Try):
            body += node.body + node.handlers + node.orelse + node.finalbody
        elif isinstance(node, ast.ExceptHandler):
            body += node.body
    return names


def test_there_are_no_import_circles_between_modules_or_packages():
    def circles(graph):
        found, state = [], {}

        def visit(node, path):
            state[node] = "open"
            for target in sorted(graph.get(node, ())):
                if state.get(target) == "open":
                    found.append(path[path.index(target):] + [target])
                elif target not in state:
                    visit(target, path + [target])
            state[node] = "done"

        for node in sorted(graph):
            if node not in state:
                visit(node, [node])
        return found

    assert circles(GRAPH) == []
    packages: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        packages.setdefault(package(module), set()).update(package(t) for t in targets if package(t) != package(module))
    assert circles(packages) == []
