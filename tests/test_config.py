"""Config validation: every bad key or value is rejected with one line naming it."""
import pytest

from pystamps_batch.config import RunConfig, load_config, parse_config
from pystamps_batch.errors import ConfigError


def test_defaults():
    c = parse_config(None)
    assert c == RunConfig(source=None)
    assert c.runtime.backend == "auto" and c.runtime.cpu_workers == 0 and c.runtime.io_workers == 8


def test_seed_native_profile_is_accepted():
    names = ["stage2_grid_accumulate", "stage2_histogram", "stage2_topofit", "stage2_topofit_row_invariant",
             "stage2_topofit_coh_row_invariant", "stage4_edge_stats", "stage7_scla", "stage8_edge_noise"]
    c = parse_config({"runtime": {"backend": "auto", "stage2_kernel_backend": "native", "stage2_native_threads": 0,
                                  "kernel_backend_overrides": {n: "native" for n in names},
                                  "io_workers": 8, "cpu_workers": 0}})
    assert c.runtime.stage2_kernel_backend == "native"
    assert set(c.runtime.kernel_backend_overrides) == set(names)


@pytest.mark.parametrize("data, needle", [
    ({"runtim": {}}, "runtim: unknown key"),
    ({"runtime": {"backends": "auto"}}, "runtime.backends: unknown key"),
    ({"runtime": {"backend": "cuda"}}, "runtime.backend: got 'cuda', expected one of auto, python, native"),
    ({"runtime": {"stage2_kernel_backend": "gpu"}}, "runtime.stage2_kernel_backend"),
    ({"runtime": {"stage2_native_threads": -1}}, "expected an integer >= 0"),
    ({"runtime": {"io_workers": 0}}, "runtime.io_workers: got 0, expected an integer >= 1"),
    ({"runtime": {"cpu_workers": "four"}}, "runtime.cpu_workers"),
    ({"runtime": {"cpu_workers": True}}, "runtime.cpu_workers"),
    ({"runtime": {"kernel_backend_overrides": {"stage9_magic": "native"}}}, "unknown kernel"),
    ({"runtime": {"kernel_backend_overrides": {"stage2_topofit": "auto"}}}, "expected one of python, native"),
    ({"stamps": {"clap_windw": 32}}, "stamps.clap_windw: unknown StaMPS parameter"),
    ({"stamps": {"clap_win": 32.5}}, "stamps.clap_win: expected an integer"),
    ({"stamps": {"filter_weighting": 3}}, "stamps.filter_weighting: expected a string"),
    ([1, 2], "top level must be a mapping"),
])
def test_rejections_name_the_key(data, needle):
    with pytest.raises(ConfigError) as e:
        parse_config(data, "cfg.yaml")
    msg = str(e.value)
    assert needle in msg and "\n" not in msg


def test_stamps_overrides_are_coerced():
    c = parse_config({"stamps": {"clap_win": 32, "weed_standard_dev": "1.2", "drop_ifg_index": [3, 5],
                                 "scn_deramp_ifg": "all"}})
    assert c.stamps == {"clap_win": 32, "weed_standard_dev": 1.2, "drop_ifg_index": [3, 5], "scn_deramp_ifg": "all"}


def test_load_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("runtime: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text("runtime:\n  backend: python\n  cpu_workers: 2\n")
    c = load_config(good)
    assert c.runtime.backend == "python" and c.runtime.cpu_workers == 2
