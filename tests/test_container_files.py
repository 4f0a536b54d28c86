"""Static checks of the container files (no Docker needed): Dockerfile, .dockerignore,
Apptainer.def and the ci/ scripts that build and test the image.

The image itself is built and exercised by ``ci/container_test.sh`` (needs a Docker engine).
"""
from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DEFFILE = REPO / "Apptainer.def"
CI = REPO / "ci"

COMPILER_PACKAGES = ("gcc", "g++", "clang", "cc", "rustc", "rustc-web", "cargo", "cargo-web",
                     "build-essential", "python3-dev", "python3-pip", "libpython3-dev", "make")
OCI_LABELS = ("title", "description", "version", "revision", "source", "licenses")


# ------------------------------------------------------------------------------------------
# Dockerfile parsing

def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def _stages() -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """Global instructions (before the first FROM) and each stage's, keyed by its name."""
    glob: list[tuple[str, str]] = []
    stages: dict[str, list[tuple[str, str]]] = {}
    current = None
    for ins, args in _instructions(DOCKERFILE.read_text()):
        if ins == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", args, re.IGNORECASE)
            assert m, f"unparsable FROM {args!r}"
            current = (m.group(2) or f"stage{len(stages)}").lower()
            stages[current] = [(ins, args)]
        elif current is None:
            glob.append((ins, args))
        else:
            stages[current].append((ins, args))
    return glob, stages


def _runtime() -> list[tuple[str, str]]:
    _, stages = _stages()
    return list(stages.values())[-1]


def _labels(instrs: list[tuple[str, str]]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for ins, args in instrs:
        if ins == "LABEL":
            for key, val in re.findall(r'([\w.\-]+)=("(?:[^"\\]|\\.)*"|\S+)', args):
                labels[key] = val.strip('"')
    return labels


def _env(instrs: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins, args in instrs:
        if ins == "ENV":
            for key, val in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', args):
                env[key] = val.strip('"')
    return env


def test_base_image_is_an_arg_that_both_stages_use():
    glob, stages = _stages()
    args = dict(a.split("=", 1) for i, a in glob if i == "ARG" and "=" in a)
    assert args.get("BASE") == "debian:bookworm-slim"
    assert list(stages) == ["build", "runtime"], "two stages: build, then runtime (the default target)"
    for name, instrs in stages.items():
        assert instrs[0][1].split()[0] == "${BASE}", f"stage {name} must start FROM ${{BASE}}"


def test_runtime_user_workdir_entrypoint_env():
    rt = _runtime()
    users = [a for i, a in rt if i == "USER"]
    assert users and users[-1].split(":")[0] == "1000", "runtime runs as uid 1000 by default"
    workdirs = [a for i, a in rt if i == "WORKDIR"]
    assert workdirs[-1] == "/data"
    entry = [a for i, a in rt if i == "ENTRYPOINT"]
    assert entry and entry[-1] == '["pystamps"]', "exec-form ENTRYPOINT [\"pystamps\"]"
    env = _env(rt)
    assert env.get("MPIR_CVAR_CH4_CMA_ENABLE") == "0"
    assert env.get("HOME") == "/tmp"
    assert env.get("PATH", "").startswith("/opt/venv/bin:")


def test_oci_labels_come_from_args():
    rt = _runtime()
    labels = _labels(rt)
    declared = {a.split("=", 1)[0] for i, a in rt if i == "ARG"}
    for name in OCI_LABELS:
        key = f"org.opencontainers.image.{name}"
        assert key in labels, f"missing label {key}"
    for name in ("version", "revision", "source", "licenses"):
        m = re.fullmatch(r"\$\{(\w+)\}", labels[f"org.opencontainers.image.{name}"])
        assert m and m.group(1) in declared, f"label {name} must come from an ARG of the runtime stage"
    assert "snaphu" in labels.get("io.pystamps-batch.third-party", "").lower()


def test_runtime_has_no_compilers_pip_or_build_inputs():
    rt = _runtime()
    for ins, args in rt:
        if ins == "RUN":
            assert "pip install" not in args and "cargo" not in args and "maturin" not in args
            m = re.search(r"apt-get install ([^&;]*)", args)
            if m:
                pkgs = [w for w in m.group(1).split() if not w.startswith("-")]
                bad = sorted(set(pkgs) & set(COMPILER_PACKAGES))
                assert not bad, f"compiler/dev packages in the runtime stage: {bad}"
                assert "python3-venv" not in pkgs
        if ins in ("COPY", "ADD"):
            assert ins == "COPY" and args.startswith("--from=build "), \
                f"the runtime stage copies only from the build stage, not {ins} {args}"
            assert "cert" not in args and "build-ca" not in args, "no CA bundle in the runtime stage"


def test_apt_hygiene_in_every_stage():
    for name, instrs in _stages()[1].items():
        for ins, args in instrs:
            if ins == "RUN" and "apt-get install" in args:
                assert "--no-install-recommends" in args, f"{name}: --no-install-recommends"
                assert "rm -rf /var/lib/apt/lists/*" in args, f"{name}: apt lists removed in the same layer"


def test_build_stage_ca_bundle_and_rust_toolchain():
    build = _stages()[1]["build"]
    copies = [a for i, a in build if i == "COPY"]
    assert any(".ci-tmp/build-ca/" in a for a in copies), "optional host CA bundle copied in the build stage"
    env = _env(build)
    for var in ("PIP_CERT", "CARGO_HTTP_CAINFO", "SSL_CERT_FILE"):
        assert env.get(var) == "/etc/ssl/certs/ca-certificates.crt", var
    runs = " ".join(a for i, a in build if i == "RUN")
    assert "rustc-web" in runs and "cargo-web" in runs
    assert re.search(r"maturin build --release --locked", runs)
    assert any(i == "ARG" and a.startswith("SOURCE_DATE_EPOCH") for i, a in build)


def test_every_workspace_member_manifest_is_copied_for_the_dependency_layer():
    members = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["members"]
    copies = [a for i, a in _stages()[1]["build"] if i == "COPY"]
    for m in members:
        assert f"{m}/Cargo.toml {m}/" in copies, f"Dockerfile must COPY {m}/Cargo.toml (dependency layer)"


def _pins(text: str) -> dict[str, str]:
    return {n.lower().replace("_", "-"): v for n, v in re.findall(r"\b([A-Za-z][\w.\-]*)==([\w.\-+]+)", text)}


def test_every_runtime_dependency_is_pinned():
    pins = _pins(DOCKERFILE.read_text())
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    needed = list(meta["dependencies"]) + list(meta["optional-dependencies"]["mpi"])
    for req in needed:
        name = re.match(r"[A-Za-z0-9_.\-]+", req).group(0).lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned (==) in the Dockerfile"
    maturin = [a for i, a in _stages()[1]["build"] if i == "ARG" and a.startswith("MATURIN_VERSION=")]
    assert maturin and re.fullmatch(r"MATURIN_VERSION=\d+\.\d+\.\d+", maturin[0])


# ------------------------------------------------------------------------------------------
# .dockerignore

def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; '!' re-includes; a match of a parent counts."""
    verdict = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: k + 1]) for k in range(len(parts))]
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.rstrip("/")
        if p.startswith("**/"):
            hit = any(fnmatch.fnmatch(pre.split("/")[-1], p[3:]) for pre in prefixes)
        else:
            hit = any(fnmatch.fnmatch(pre, p) for pre in prefixes)
        if hit:
            verdict = not neg
    return verdict


def test_dockerignore():
    pats = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    for path in (".venv/bin/python", "target/release/x", ".git/HEAD", "demo-out/a", "scratch/a",
                 ".agents/COMMON.md", "tests/test_x.py", "pystamps_batch/__pycache__/x.pyc",
                 "pystamps_batch/_native.abi3.so", ".ci-tmp/container/synth/x"):
        assert _ignored(path, pats), f"{path} must not be in the build context"
    for path in ("Dockerfile", "Cargo.toml", "Cargo.lock", "pyproject.toml", "README.md",
                 "native/core/src/lib.rs", "pystamps_batch/cli.py", ".ci-tmp/build-ca/host-ca.crt"):
        assert not _ignored(path, pats), f"{path} is needed in the build context"


# ------------------------------------------------------------------------------------------
# Apptainer.def

def _def_sections() -> tuple[dict[str, str], dict[str, str]]:
    header: dict[str, str] = {}
    sections: dict[str, str] = {}
    current = None
    for line in DEFFILE.read_text().splitlines():
        m = re.match(r"^%(\w+)\s*$", line)
        if m:
            current = m.group(1)
            assert current not in sections, f"duplicate section %{current}"
            sections[current] = ""
        elif current is None:
            hm = re.match(r"^(\w+):\s*(\S.*)$", line)
            if hm:
                header[hm.group(1)] = hm.group(2).strip()
        else:
            sections[current] += line + "\n"
    return header, sections


def _built_tag() -> str:
    m = re.search(r'IMAGE=\$\{PYSTAMPS_IMAGE:-([^}]+)\}', (CI / "container_test.sh").read_text())
    assert m, "ci/container_test.sh has no default image tag"
    return m.group(1)


def test_apptainer_header_matches_the_built_tag():
    header, sections = _def_sections()
    assert header.get("Bootstrap") == "docker-daemon"
    assert header.get("From") == _built_tag()
    assert {"labels", "post", "environment", "runscript", "test", "help"} <= set(sections)


def test_apptainer_runscript_test_and_help():
    _, sec = _def_sections()
    assert re.search(r'exec pystamps "\$@"', sec["runscript"])
    first = [ln.strip() for ln in sec["test"].splitlines() if ln.strip() and not ln.strip().startswith("#")][0]
    assert re.fullmatch(r"END_STEP=[1-8]", first), "the test's end step is a variable at its top"
    for cmd in ("pystamps synth", "pystamps run", "pystamps verify"):
        assert cmd in sec["test"]
    assert "apptainer run pystamps.sif run --dataset DIR --start-step 1 --end-step 8" in sec["help"]
    assert "srun --mpi=pmi2" in sec["help"] and "MPI4PY_LIBMPI" in sec["help"]
    assert "org.opencontainers.image.title" in sec["labels"]


@pytest.mark.parametrize("section", ["post", "environment", "runscript", "test"])
@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_apptainer_sections_parse(section, shell):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} not available")
    body = _def_sections()[1][section]
    r = subprocess.run([shell, "-n"], input=body, text=True, capture_output=True)
    assert r.returncode == 0, f"%{section} does not parse with {shell} -n: {r.stderr}"


# ------------------------------------------------------------------------------------------
# ci/ scripts and docs

@pytest.mark.parametrize("script", ["lib.sh", "base_image.sh", "container_test.sh"])
def test_ci_scripts_parse(script):
    path = CI / script
    text = path.read_text()
    r = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    if script != "lib.sh":
        assert text.startswith("#!/usr/bin/env bash\n")
        assert "set -euo pipefail" in text
        assert path.stat().st_mode & 0o111, f"{script} must be executable"


def test_container_test_rules():
    text = (CI / "container_test.sh").read_text()
    assert "--network none --read-only --tmpfs /tmp" in text
    assert '--user "$UIDGID"' in text and "--rm --init" in text
    assert "prune -f --filter \"label=" in text and "system prune" not in text
    assert "--profile strict" in text and "--profile scientific" in text
    assert "PYSTAMPS_CONTAINER_END_STEP:-8" in text


def test_base_image_name_comes_from_the_dockerfile():
    lib = (CI / "lib.sh").read_text()
    base = (CI / "base_image.sh").read_text()
    assert "dockerfile_base" in lib and "dockerfile_base" in base
    assert "docker import" in base and "debootstrap" in base


def test_containers_doc():
    doc = (REPO / "README.md").read_text()
    for needle in ("docker run", "apptainer run pystamps.sif run --dataset", "srun --mpi=pmi2",
                   "MPI4PY_LIBMPI", "mpiexec", "snaphu", "non-commercial", "--user"):
        assert needle in doc, f"README.md (Containers) lacks {needle!r}"
