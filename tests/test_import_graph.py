"""The import graph of ``libreface_nb`` has no cycle, and its layers run one way.

:data:`LAYERS` is the declared order, lowest first. Each top-level module or package of
``libreface_nb`` (a *component*: ``config``, ``data``, ``export``…; the package's own
``__init__`` is ``libreface_nb``) belongs to exactly one layer. A module may import modules of its
own component and of strictly lower layers only: never a higher layer, and never a sibling
component of its own layer (so ``export`` and ``infer``, which share one, stay independent).

Edges come from every ``import`` statement of every module, read with :mod:`ast`: module-level
ones and those inside functions alike (a function-level import is still a dependency; hiding a
cycle inside a function only delays the failure to the first call). ``from a.b import c`` is an
edge to ``a.b.c`` when that is a module, else to ``a.b``. Not edges: the implicit import of a
parent package's ``__init__`` (any ``a.b.c`` import runs ``a/b/__init__``; packages here only
re-export their own children), and modules imported by name at run time
(``importlib.import_module``), which the dataset registry uses on purpose so that it names its
dataset modules without importing them (see ``libreface_nb/data/registry.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import libreface_nb

PACKAGE = Path(libreface_nb.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(node: ast.AST, here: str, is_package: bool, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative import: resolve against this module's package
        pkg = here.split(".") if is_package else here.split(".")[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join([*pkg, base] if base else pkg)
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def import_graph() -> dict[str, set[str]]:
    """Module → the ``libreface_nb`` modules it imports."""
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _targets(node, name, path.name == "__init__.py", known):
                while target and target not in known:  # e.g. libreface_nb.x.func → libreface_nb.x
                    target = target.rpartition(".")[0]
                if target.startswith("libreface_nb") and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as a path ``[a, b, …, a]``, or [] when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return []


#: The layer order, lowest first: (layer name, its components). See the module docstring.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (name, frozenset(parts))
    for name, parts in (
        ("core", {"config", "errors"}),
        ("files", {"atomic", "artifacts", "tasks"}),
        ("runs", {"runs"}),
        ("faces, models", {"faces", "models"}),
        ("data", {"data"}),
        ("train", {"train"}),
        ("modelio", {"modelio"}),  # model metadata, ONNX Runtime sessions, face → tensor
        ("export, infer", {"export", "infer"}),
        ("eval", {"eval"}),
        ("plots", {"plots"}),
        ("widgets", {"widgets"}),
        ("runner", {"profiles", "results", "run_index"}),
        ("api", {"libreface_nb", "run"}),  # libreface_nb: the package's public names
        ("cli", {"cli"}),
    )
)


def component(module: str) -> str:
    """``libreface_nb.data.synth.render`` → ``data``; ``libreface_nb`` → ``libreface_nb``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_violations(
    graph: dict[str, set[str]], layers: tuple[tuple[str, frozenset[str]], ...]
) -> list[str]:
    """Every edge that imports a higher layer or a sibling component of its own layer.

    Each as ``"a → b: layer 'x' (n) imports layer 'y' (m)"``; a component in no layer is one too.
    """
    rank = {comp: (i, name) for i, (name, comps) in enumerate(layers) for comp in comps}
    out = []
    for comp in sorted({component(m) for m in graph} - set(rank)):
        out.append(f"{comp}: in no layer of LAYERS; add it to the table")
    for src in sorted(graph):
        for dst in sorted(graph[src]):
            a, b = component(src), component(dst)
            if a == b or a not in rank or b not in rank:
                continue
            (i, la), (j, lb) = rank[a], rank[b]
            if j > i:
                out.append(f"{src} → {dst}: layer {la!r} ({i}) imports higher layer {lb!r} ({j})")
            elif j == i:
                out.append(f"{src} → {dst}: {a!r} imports its sibling {b!r} in layer {la!r}")
    return out


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_graph_reads_function_level_and_relative_imports():
    graph = import_graph()
    # faces.align imports faces.io inside align_face only.
    assert "libreface_nb.faces.io" in graph["libreface_nb.faces.align"]
    assert "libreface_nb.data.synth.aus" in graph["libreface_nb.data.synth.render"]
    assert len(graph) == len(_modules())


def test_libreface_nb_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle == [], "import cycle: " + " → ".join(cycle)


def test_alignment_geometry_has_no_cycle():
    graph = import_graph()
    assert "libreface_nb.faces.align" not in graph["libreface_nb.faces.align_reference"]
    assert "libreface_nb.faces.quad" in graph["libreface_nb.faces.align_reference"]


def test_layer_violations_names_upward_and_sibling_edges():
    layers = (("low", frozenset({"a"})), ("mid", frozenset({"b", "c"})), ("high", frozenset({"d"})))
    ok = {"p.a": set(), "p.a.x": {"p.a"}, "p.b": {"p.a"}, "p.c": {"p.a"}, "p.d": {"p.b", "p.c"}}
    assert layer_violations(ok, layers) == []
    bad = ok | {"p.a": {"p.d.y"}, "p.d.y": set(), "p.b": {"p.c"}, "p.e": set()}
    assert layer_violations(bad, layers) == [
        "e: in no layer of LAYERS; add it to the table",
        "p.a → p.d.y: layer 'low' (0) imports higher layer 'high' (2)",
        "p.b → p.c: 'b' imports its sibling 'c' in layer 'mid'",
    ]


def test_layers_cover_each_component_once():
    seen = [comp for _, comps in LAYERS for comp in comps]
    assert len(seen) == len(set(seen)), "a component is in two layers"
    assert {component(m) for m in _modules()} <= set(seen)


def test_libreface_nb_imports_run_one_way():
    bad = layer_violations(import_graph(), LAYERS)
    order = " → ".join(name for name, _ in LAYERS)
    assert bad == [], f"imports against the layer order ({order}):\n" + "\n".join(bad)


def test_export_and_infer_do_not_import_each_other():
    graph = import_graph()
    crossing = [
        f"{src} → {dst}"
        for src, dsts in graph.items()
        for dst in dsts
        if {component(src), component(dst)} == {"export", "infer"}
    ]
    assert crossing == []
