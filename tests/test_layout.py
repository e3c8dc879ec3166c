"""The code keeps the shape docs/architecture.md describes: layers, module list, short functions."""

import ast
import re

from .conftest import REPO

SRC = REPO / "src" / "careerqa"
ARCHITECTURE = REPO / "docs" / "architecture.md"
LONGEST_FUNCTION = 60  # lines, docstring included


def _table_order() -> list[str]:
    """Modules in the order of the architecture page's table."""
    return re.findall(r"^\|[^|]*\| `(\w+)\.py` \|", ARCHITECTURE.read_text(), re.M)


def _internal_imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found - {"__version__"}


def _modules() -> list[str]:
    return sorted(p.stem for p in SRC.glob("*.py") if not p.stem.startswith("__"))


def test_every_module_is_described_once():
    order = _table_order()
    assert sorted(order) == _modules()


def test_modules_import_only_earlier_layers():
    position = {name: i for i, name in enumerate(_table_order())}
    upward = [
        f"{name} imports {dep}"
        for name in _modules()
        for dep in _internal_imports(SRC / f"{name}.py")
        if dep in position and position[dep] > position[name]
    ]
    assert upward == []


def test_the_question_path_does_not_import_the_build_pipeline():
    for name in ("assistant", "answering", "retrieval", "query", "loaded"):
        assert "ingest" not in _internal_imports(SRC / f"{name}.py"), name


def test_functions_are_short():
    long = []
    for path in SRC.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


def test_docs_and_code_point_nowhere_outside_the_repository():
    outside = re.compile(r"\.\./shared|shared/eval|DESIGN\.md|STYLE\.md")
    places = [*SRC.glob("*.py"), REPO / "README.md", *REPO.glob("docs/*.md")]
    assert [p.name for p in places if outside.search(p.read_text())] == []
