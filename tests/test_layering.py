"""The package's shape (docs/architecture.md, "Layers"), checked by reading its source.

* no import cycles anywhere in ``speedpix_async/`` (emulator included; imports under
  ``TYPE_CHECKING`` and inside functions count: a type-only cycle is still a cycle);
* no module reads another module's private attributes: ``x._name`` is allowed on ``self`` and
  ``cls``, and on objects of classes the same module defines;
* layers import only downward: leaves ← core ← services ← public surface; the emulator sees
  client code only inside functions (never when it is imported).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "speedpix_async"

LEAVES = {
    "_version",
    "_config",
    "_errors",
    "_converter",
    "_redact",
    "_logging",
    "_signing",
    "_validate",
    "_help",
}
#: Layer of each module, by its first dotted part under the package (lower imports nothing above).
LAYERS = {
    **dict.fromkeys(LEAVES, 0),
    "_core": 1,
    "speedpix": 2,
    "portrait": 2,
    "outputs": 2,
    "_sync": 3,
    "sync": 3,
    "testing": 3,
    "cli": 3,
    "_demo": 3,
    "__main__": 3,
    "__init__": 3,
    "emulator": 4,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else "__init__"]


def imports(module: str) -> Iterator[tuple[str, ast.AST, bool]]:
    """(imported module, node, at module level outside TYPE_CHECKING) for every import."""
    tree = TREES[module]
    is_package = MODULES[module].name == "__init__.py"
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded.update(id(inner) for inner in ast.walk(node))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            guarded.update(id(inner) for inner in ast.walk(node) if inner is not node)
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([base] if base else [])])
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            # A package's own ancestors are not dependencies (Python runs them first anyway).
            if target and target != module and not module.startswith(target + "."):
                yield target, node, id(node) not in guarded


def test_no_import_cycles() -> None:
    edges = {m: {t for t, _, _ in imports(m)} for m in MODULES}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def _classes(tree: ast.Module) -> set[str]:
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}


def _owned(receiver: ast.expr, classes: set[str]) -> bool:
    """Whether ``receiver._x`` reads something of this module's own: ``self``, ``cls``,
    ``super()``, or a class this module defines. (Any other object may be anyone's, whatever
    names this module happens to define.)"""
    if isinstance(receiver, ast.Name):
        return receiver.id in ("self", "cls") or receiver.id in classes
    return (
        isinstance(receiver, ast.Call)
        and isinstance(receiver.func, ast.Name)
        and receiver.func.id == "super"
    )


def private_reads(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, name) of each read of a private attribute on something not this module's own."""
    classes = _classes(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__"):
            continue
        if not _owned(node.value, classes):
            yield node.lineno, name


def test_no_module_reads_another_modules_private_attributes() -> None:
    found = [
        f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}: .{name}"
        for module, tree in TREES.items()
        for line, name in private_reads(tree)
    ]
    assert not found, "private attributes read across modules:\n" + "\n".join(found)


@pytest.mark.parametrize(("service", "other"), [("portrait", "speedpix"), ("speedpix", "portrait")])
def test_one_service_imports_nothing_of_another(service: str, other: str) -> None:
    prefix = f"speedpix_async.{service}"
    found = [
        f"{module} imports {target}"
        for module in MODULES
        if module == prefix or module.startswith(prefix + ".")
        for target, _, _ in imports(module)
        if target == f"speedpix_async.{other}" or target.startswith(f"speedpix_async.{other}.")
    ]
    assert not found, "\n".join(found)


def test_layers_import_only_downward() -> None:
    wrong = []
    for module in MODULES:
        for target, _, at_import_time in imports(module):
            mine, theirs = layer(module), layer(target)
            if mine == 4:
                # The emulator: leaves and its own modules when imported; client code lazily.
                allowed = theirs in (0, 4) or not at_import_time
            else:
                allowed = theirs <= mine or (mine == 3 and theirs == 4 and not at_import_time)
            if not allowed:
                wrong.append(f"{module} (layer {mine}) imports {target} (layer {theirs})")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(set(wrong)))


@pytest.mark.parametrize(
    ("source", "reads"),
    [
        ("def f(x):\n    return x._secret\n", [(2, "_secret")]),
        ("def f(client):\n    client._transport.call()\n", [(2, "_transport")]),
        ("class A:\n    def f(self):\n        return self._mine\n", []),
        # Another object, even of a class this module defines, may be anyone's: flagged.
        (
            "class A:\n    def f(self, other):\n        self._x = 1\n        return other._x\n",
            [(4, "_x")],
        ),
        ("class A:\n    def f(self):\n        return super()._f(), A._g\n", []),
        ("import enum\nm = enum.Enum.__members__\n", []),
    ],
    ids=[
        "other-object",
        "other-module-attribute",
        "self",
        "another-object",
        "super-and-class",
        "dunder",
    ],
)
def test_the_private_read_rule_itself(source: str, reads: list[tuple[int, str]]) -> None:
    assert list(private_reads(ast.parse(source))) == reads
