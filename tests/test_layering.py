"""Imports flow one way: types -> data -> encoders -> indexes -> qu -> arms -> bandit -> rerank -> pipeline -> simulate;
eval, training and serve are leaves; tasks (composition roots) may import anything."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "ltrr"
ORDER = ["types", "utils", "data", "encoders", "losses", "indexes", "qu", "arms", "bandit", "rerank", "pipeline",
         "simulate", "eval", "training", "serve", "tasks"]
BASE = {"types", "utils"}
LEAVES = {"eval", "training", "serve"}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "ltrr" and len(parts) > 1 else None


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_every_package_is_ranked():
    pkgs = {p.name for p in PKG.iterdir() if p.is_dir() and not p.name.startswith("_")}
    pkgs |= {p.stem for p in PKG.glob("*.py") if p.stem != "__init__"}
    assert pkgs <= set(ORDER), f"unranked packages: {pkgs - set(ORDER)}"


def test_imports_flow_one_way():
    bad = []
    for f in PKG.rglob("*.py"):
        src = layer_of("ltrr." + ".".join(f.relative_to(PKG).with_suffix("").parts))
        for mod in imports(f):
            dst = layer_of(mod)
            if dst is None or dst == src or dst in BASE:
                continue
            if src == "tasks":
                continue
            if src in BASE or dst in LEAVES | {"tasks"} or ORDER.index(dst) > ORDER.index(src):
                bad.append(f"{f.relative_to(PKG)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_nothing_below_tasks_reads_configs():
    offenders = [str(f.relative_to(PKG)) for f in PKG.rglob("*.py") if f.relative_to(PKG).parts[0] != "tasks"
                 and any(m.split(".")[0] in {"hydra", "omegaconf"} for m in imports(f))]
    assert not offenders, offenders
