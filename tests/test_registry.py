"""Kernel selection rules and the describe-backends report."""
import pytest

from pystamps_batch.config import RuntimeConfig
from pystamps_batch.errors import ConfigError
from pystamps_batch.kernels import registry
from pystamps_batch.kernels.names import KERNEL_NAMES
from pystamps_batch.kernels.registry import KernelSet, describe_backends, select_backend


def test_every_kernel_has_a_python_backend():
    assert set(registry.PYTHON_IMPL) == set(KERNEL_NAMES)


def test_python_forces_reference_kernels():
    rt = RuntimeConfig(backend="python", stage2_kernel_backend="python")
    assert all(select_backend(k, rt)[0] == "python" for k in KERNEL_NAMES)


def test_rule_precedence(monkeypatch):
    monkeypatch.setattr(registry, "native_available", lambda: (True, None))
    rt = RuntimeConfig(backend="python", stage2_kernel_backend="native",
                       kernel_backend_overrides={"stage2_histogram": "python"})
    assert select_backend("stage2_histogram", rt) == ("python", "runtime.kernel_backend_overrides")
    assert select_backend("stage2_topofit", rt) == ("native", "runtime.stage2_kernel_backend")
    assert select_backend("stage4_edge_stats", rt) == ("python", "runtime.backend")


def test_explicit_native_without_extension_is_an_error(monkeypatch):
    monkeypatch.setattr(registry, "native_available", lambda: (False, "not built"))
    with pytest.raises(ConfigError, match="extension did not load"):
        KernelSet(RuntimeConfig(kernel_backend_overrides={"stage2_histogram": "native"}))
    # auto falls back to python silently, and says so in describe-backends
    d = describe_backends(RuntimeConfig())
    assert d["native_extension"] == {"loaded": False, "reason": "not built"}
    assert all(k["selected"] == "python" for k in d["kernels"].values())


def test_native_extension_loads_and_is_selected_by_auto():
    ok, reason = registry.native_available()
    assert ok, reason
    ks = KernelSet(RuntimeConfig())
    assert ks.backend("stage2_topofit") == "native"
    ks.get("stage2_histogram")
    assert ks.take_report() == {"stage2_histogram": "native"}


def test_native_request_for_a_python_only_kernel_is_an_error():
    only_python = [k for k in KERNEL_NAMES if k not in registry.NATIVE_IMPL]
    if not only_python:
        pytest.skip("every kernel has a native backend")
    with pytest.raises(ConfigError, match="has no native implementation"):
        KernelSet(RuntimeConfig(kernel_backend_overrides={only_python[0]: "native"}))
