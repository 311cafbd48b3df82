"""The core's layers: every import of mnist_core, read with `ast`, goes one way, in no circle.

    base ← data ← modeling ← training ← runs ← engine
          ↖ reading ↙ (training draws digits the way the Draw page reads them)
                 evaluation ← runs;   teaching (never the engine), cli (all)

Lazy imports inside functions count as much as those at the top: a circle or an arrow
against the direction is a design problem whenever it is taken.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "mnist_core"
# What each layer may import (besides itself). The package's own __init__ and __main__ are
# the top: they may import anything.
ALLOWED = {
    "base": set(),
    "data": {"base"},
    "modeling": {"base", "data"},
    "reading": {"base", "data", "modeling"},
    "evaluation": {"base", "data", "modeling", "reading"},
    "training": {"base", "data", "modeling", "reading", "evaluation"},
    "runs": {"base", "data", "modeling", "training", "evaluation"},
    "engine": {"base", "data", "modeling", "training", "evaluation", "runs"},
    "teaching": {"base", "data", "modeling", "reading", "evaluation", "training", "runs"},
    "cli": {
        "base", "data", "modeling", "reading", "evaluation", "training", "runs", "engine",
        "teaching",
    },
}  # fmt: skip
FORBIDDEN_EVERYWHERE = ("streamlit", "app_glue", "app_pages", "app", "serve")
MAX_MODULE_LINES = 500


def module_name(path: Path, core: Path = CORE) -> str:
    parts = list(path.relative_to(core.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str], core: Path = CORE) -> set[str]:
    """The core modules (and other top-level packages) a file imports, lazily or not."""
    own = module_name(path, core)
    package = own if path.name == "__init__.py" else own.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known and "." in name:
                name = name.rsplit(".", 1)[0]
            if name and name != own:
                found.add(name)
    return found


def core_modules(core: Path = CORE) -> dict[str, Path]:
    return {module_name(path, core): path for path in sorted(core.rglob("*.py"))}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else None


def test_every_module_belongs_to_a_layer():
    loose = [
        name
        for name in core_modules()
        if name not in ("mnist_core", "mnist_core.__main__") and layer_of(name) not in ALLOWED
    ]
    assert loose == [], f"modules outside every layer: {loose}; put each in a layer package"


def arrows_against_layers(core: Path = CORE) -> list[str]:
    """Every import that goes against the layers, or from the core into the app."""
    modules = core_modules(core)
    known = set(modules)
    wrong = []
    for name, path in modules.items():
        layer = layer_of(name)
        for imported in imported_modules(path, known, core):
            top = imported.split(".")[0]
            if top in FORBIDDEN_EVERYWHERE:
                wrong.append(f"{name} imports {imported} (the core never imports the app)")
                continue
            target = layer_of(imported) if top == "mnist_core" else None
            if layer is None or target is None or target == layer:
                continue
            if target not in ALLOWED[layer]:
                wrong.append(f"{name} ({layer}) imports {imported} ({target})")
    return wrong


def import_circles(core: Path = CORE) -> list[str]:
    """Every circle of imports between the core's modules (a package and its own modules
    excepted: a package's __init__ may import what it holds)."""
    modules = core_modules(core)
    known = set(modules)
    graph = {
        name: {
            imported
            for imported in imported_modules(path, known, core)
            if imported in known and imported != name and not imported.startswith(name + ".")
        }
        for name, path in modules.items()
    }
    circles: list[str] = []
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                circles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return circles


def test_imports_go_one_way_and_never_to_the_app():
    wrong = arrows_against_layers()
    assert wrong == [], "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_circle():
    circles = import_circles()
    assert circles == [], "import circles:\n" + "\n".join(circles)


@pytest.mark.parametrize(
    "folder", ["mnist_core", "app_glue", "app_pages"], ids=["core", "glue", "pages"]
)
def test_no_module_over_500_lines(folder):
    root = CORE.parent / folder
    long = {
        str(path.relative_to(CORE.parent)): lines
        for path in sorted(root.rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}; split them by concern"


def test_the_checks_see_a_wrong_arrow_a_circle_and_the_app(tmp_path):
    """The checks above fail on what they are meant to find."""
    fake = tmp_path / "mnist_core"
    for name, text in {
        "__init__.py": "",
        "data/__init__.py": "",
        "data/a.py": "def f():\n    from mnist_core.engine import b\n",
        "engine/__init__.py": "",
        "engine/b.py": "from mnist_core.engine.c import x\nimport streamlit\n",
        "engine/c.py": "from mnist_core.engine.b import y\nx = 1\n",
    }.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(text)
    wrong = arrows_against_layers(fake)
    assert "mnist_core.data.a (data) imports mnist_core.engine (engine)" in wrong
    assert any("imports streamlit" in line for line in wrong)
    assert import_circles(fake) == [
        "mnist_core.engine.b -> mnist_core.engine.c -> mnist_core.engine.b"
    ]
