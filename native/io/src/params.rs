//! StaMPS processing parameters (spec B.1/B.2) as `pystamps_batch.params` and
//! `pystamps_batch.parameters_io.load_params` build them.
//!
//! Order, later wins: defaults -> `parms.mat` (the folder's own, else the root's) ->
//! `localparms.mat` in the folder -> step-1 values (doris: `lambda.1.in`, `heading.1.in`,
//! `slc_osfactor.1.in` where missing; snap/gamma: the master `.rslc.par`) -> `insar_processor`
//! from processor.txt when absent -> the config's `stamps:` overrides.
//!
//! Values keep the Python types (int, float, string, list, or "all"), because the
//! completion markers store them as JSON and compare them with the Python side's.

use std::collections::BTreeMap;
use std::path::Path;

use pystamps_core::stages::arrays::{MatArray, MatData};

use crate::layout::{self, InputError};
use crate::mat;

/// One parameter value, typed as the Python side types it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    /// a list of numbers (integers stored as integral f64 with `ints = true`)
    List(Vec<f64>, bool),
    /// the string "all" for an index list
    All,
}

impl Value {
    /// The JSON the markers store (`markers._jsonable`: non-finite floats as "inf", "-inf", "nan").
    pub fn to_json(&self) -> serde_json::Value {
        fn num(x: f64, int: bool) -> serde_json::Value {
            if !x.is_finite() {
                serde_json::Value::String(py_float_str(x))
            } else if int {
                serde_json::Value::from(x as i64)
            } else {
                serde_json::Value::from(x)
            }
        }
        match self {
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(x) => num(*x, false),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::List(v, ints) => {
                serde_json::Value::Array(v.iter().map(|&x| num(x, *ints && x.fract() == 0.0)).collect())
            }
            Value::All => serde_json::Value::String("all".into()),
        }
    }

    /// A number (an int or a float).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Python's `str(float)` for the non-finite values.
pub fn py_float_str(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

const INF: f64 = f64::INFINITY;

/// name -> default (PS mode), spec B.2; the same table as `pystamps_batch.params.DEFAULTS`.
pub fn defaults() -> Vec<(&'static str, Value)> {
    use Value::*;
    let s = |x: &str| Str(x.to_string());
    let l = |v: &[f64]| List(v.to_vec(), false);
    vec![
        ("small_baseline_flag", s("n")),
        ("insar_processor", s("doris")),
        ("max_topo_err", Float(20.0)),
        ("quick_est_gamma_flag", s("y")),
        ("select_reest_gamma_flag", s("y")),
        ("filter_grid_size", Float(50.0)),
        ("filter_weighting", s("P-square")),
        ("gamma_change_convergence", Float(0.005)),
        ("gamma_max_iterations", Int(3)),
        ("slc_osf", Float(1.0)),
        ("clap_win", Int(32)),
        ("clap_low_pass_wavelength", Float(800.0)),
        ("clap_alpha", Float(1.0)),
        ("clap_beta", Float(0.3)),
        ("select_method", s("DENSITY")),
        ("density_rand", Float(20.0)),
        ("percent_rand", Float(20.0)),
        ("gamma_stdev_reject", Float(0.0)),
        ("weed_time_win", Float(730.0)),
        ("weed_max_noise", Float(INF)),
        ("weed_standard_dev", Float(1.0)),
        ("weed_zero_elevation", s("n")),
        ("weed_neighbours", s("n")),
        ("drop_ifg_index", List(vec![], true)),
        ("unwrap_method", s("3D")),
        ("unwrap_patch_phase", s("n")),
        ("unwrap_la_error_flag", s("y")),
        ("unwrap_spatial_cost_func_flag", s("n")),
        ("unwrap_prefilter_flag", s("y")),
        ("unwrap_grid_size", Float(200.0)),
        ("unwrap_gold_n_win", Int(32)),
        ("unwrap_alpha", Float(8.0)),
        ("unwrap_time_win", Float(730.0)),
        ("unwrap_gold_alpha", Float(0.8)),
        ("unwrap_hold_good_values", s("n")),
        ("scla_drop_index", List(vec![], true)),
        ("scla_method", s("L2")),
        ("scla_deramp", s("n")),
        ("scn_wavelength", Float(100.0)),
        ("scn_time_win", Float(365.0)),
        ("scn_deramp_ifg", List(vec![], true)),
        ("scn_kriging_flag", s("n")),
        ("ref_lon", l(&[-INF, INF])),
        ("ref_lat", l(&[-INF, INF])),
        ("ref_centre_lonlat", l(&[0.0, 0.0])),
        ("ref_radius", Float(INF)),
        ("ref_velocity", Float(0.0)),
        ("n_cores", Int(1)),
        ("plot_dem_posting", Float(90.0)),
        ("plot_scatterer_size", Float(120.0)),
        ("plot_pixels_scatterer", Int(3)),
        ("plot_color_scheme", s("inflation")),
        ("shade_rel_angle", l(&[90.0, 45.0])),
        ("lonlat_offset", l(&[0.0, 0.0])),
        ("merge_resample_size", Float(0.0)),
        ("merge_standard_dev", Float(INF)),
        ("lambda", Float(f64::NAN)),
        ("heading", Float(f64::NAN)),
        ("subtr_tropo", s("n")),
        ("tropo_method", s("a_l")),
    ]
}

/// Index lists (integers kept integral); the float lists are the other LIST_PARAMS.
const INT_LISTS: [&str; 3] = ["drop_ifg_index", "scla_drop_index", "scn_deramp_ifg"];
const FLOAT_LISTS: [&str; 5] = ["ref_lon", "ref_lat", "ref_centre_lonlat", "shade_rel_angle", "lonlat_offset"];

pub fn default_of(name: &str) -> Option<Value> {
    defaults().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

pub fn is_list_param(name: &str) -> bool {
    INT_LISTS.contains(&name) || FLOAT_LISTS.contains(&name)
}

/// A raw value before coercion (from parms.mat or YAML).
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Str(String),
    Num(f64),
    /// a YAML integer (kept apart so an int param accepts it without a float round trip)
    Int(i64),
    Bool(bool),
    List(Vec<f64>),
    Null,
    Other(String),
}

/// A parms.mat variable as Python's `coerce_value` first normalises an ndarray.
pub fn raw_from_mat(name: &str, a: &MatArray) -> Raw {
    let nums: Vec<f64> = match &a.data {
        MatData::Char(s) => return Raw::Str(s.clone()),
        MatData::F64(v) => v.clone(),
        MatData::F32(v) => v.iter().map(|&x| x as f64).collect(),
        MatData::I32(v) => v.iter().map(|&x| x as f64).collect(),
        MatData::U8(v) => v.iter().map(|&x| x as f64).collect(),
        MatData::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
        MatData::C64(_) | MatData::C128(_) => return Raw::Other("a complex array".into()),
        MatData::Sparse(_) => return Raw::Other("a sparse matrix".into()),
    };
    if nums.is_empty() {
        Raw::List(vec![])
    } else if is_list_param(name) || nums.len() > 1 {
        Raw::List(nums)
    } else {
        match &a.data {
            MatData::F64(_) | MatData::F32(_) => Raw::Num(nums[0]),
            MatData::Bool(v) => Raw::Bool(v[0]),
            _ => Raw::Int(nums[0] as i64),
        }
    }
}

fn py_repr(r: &Raw) -> String {
    fn f(x: f64) -> String {
        if !x.is_finite() {
            py_float_str(x)
        } else if x.fract() == 0.0 && x.abs() < 1e16 {
            format!("{x:.1}")
        } else {
            format!("{x}")
        }
    }
    match r {
        Raw::Str(s) => format!("'{s}'"),
        Raw::Num(x) => f(*x),
        Raw::Int(i) => i.to_string(),
        Raw::Bool(b) => if *b { "True".into() } else { "False".into() },
        Raw::List(v) => format!("[{}]", v.iter().map(|&x| f(x)).collect::<Vec<_>>().join(", ")),
        Raw::Null => "None".into(),
        Raw::Other(s) => s.clone(),
    }
}

/// `pystamps_batch.params.coerce_value`: normalise a raw value to the type of the default.
/// Errors are the short reason (the caller prefixes the file/key).
pub fn coerce(name: &str, raw: Raw) -> Result<Value, String> {
    let default = default_of(name);
    match default {
        Some(Value::Str(_)) => match raw {
            Raw::Str(s) => Ok(Value::Str(s)),
            other => Err(format!("expected a string, got {}", py_repr(&other))),
        },
        Some(Value::List(..)) => {
            let v = match raw {
                Raw::Str(s) => {
                    if s.trim().eq_ignore_ascii_case("all") {
                        return Ok(Value::All);
                    }
                    let cleaned = s.replace([',', '[', ']'], " ");
                    let mut out = Vec::new();
                    for t in cleaned.split_whitespace() {
                        out.push(
                            layout::parse_float(t)
                                .ok_or_else(|| format!("could not convert string to float: '{t}'"))?,
                        );
                    }
                    out
                }
                Raw::Num(x) => vec![x],
                Raw::Int(i) => vec![i as f64],
                Raw::Bool(b) => vec![b as u8 as f64],
                Raw::List(v) => v,
                other => return Err(format!("expected a list of numbers, got {}", py_repr(&other))),
            };
            Ok(Value::List(v, INT_LISTS.contains(&name)))
        }
        Some(Value::Int(_)) => {
            let f = match raw {
                Raw::Num(x) => x,
                Raw::Int(i) => return Ok(Value::Int(i)),
                Raw::Bool(b) => b as u8 as f64,
                Raw::Str(s) => layout::parse_float(&s).ok_or_else(|| format!("could not convert string to float: '{s}'"))?,
                other => return Err(format!("expected an integer, got {}", py_repr(&other))),
            };
            if f.fract() != 0.0 || !f.is_finite() {
                return Err(format!("expected an integer, got {}", py_repr(&Raw::Num(f))));
            }
            Ok(Value::Int(f as i64))
        }
        Some(Value::Float(_)) => match raw {
            Raw::Num(x) => Ok(Value::Float(x)),
            Raw::Int(i) => Ok(Value::Float(i as f64)),
            Raw::Bool(b) => Ok(Value::Float(b as u8 as f64)),
            Raw::Str(s) => layout::parse_float(&s.trim().to_lowercase())
                .map(Value::Float)
                .ok_or_else(|| format!("could not convert string to float: '{s}'")),
            other => Err(format!("expected a number, got {}", py_repr(&other))),
        },
        // not a known parameter (kept as given)
        _ => Ok(match raw {
            Raw::Str(s) => Value::Str(s),
            Raw::Num(x) => Value::Float(x),
            Raw::Int(i) => Value::Int(i),
            Raw::Bool(b) => Value::Int(b as i64),
            Raw::List(v) => Value::List(v, false),
            Raw::Null | Raw::Other(_) => Value::Str(String::new()),
        }),
    }
}

/// An effective parameter set (defaults merged in).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub values: BTreeMap<String, Value>,
}

impl Params {
    pub fn from_values(vals: BTreeMap<String, Value>) -> Self {
        let mut values: BTreeMap<String, Value> = defaults().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        values.extend(vals);
        Params { values }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// A number parameter (int or float).
    pub fn f64(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(Value::as_f64)
    }

    /// 'y'/'yes'/'1'/'true' (case-insensitive) -> true.
    pub fn flag(&self, name: &str) -> bool {
        match self.get(name) {
            Some(Value::Str(s)) => matches!(s.trim().to_lowercase().as_str(), "y" | "yes" | "1" | "true"),
            Some(Value::Int(i)) => *i == 1,
            Some(Value::Float(x)) => *x == 1.0,
            _ => false,
        }
    }

    /// `markers.params_subset`: {name: jsonable value} (None -> null for an unknown name).
    pub fn subset_json(&self, names: &[&str]) -> serde_json::Map<String, serde_json::Value> {
        names
            .iter()
            .map(|n| (n.to_string(), self.get(n).map(Value::to_json).unwrap_or(serde_json::Value::Null)))
            .collect()
    }
}

fn missing(v: Option<&Value>) -> bool {
    match v {
        None => true,
        Some(Value::Float(x)) => x.is_nan(),
        _ => false,
    }
}

fn read_parms(path: &Path) -> Result<BTreeMap<String, Value>, InputError> {
    let f = mat::read_mat(path).map_err(|e| InputError(e.0))?;
    let mut out = BTreeMap::new();
    for (k, a) in &f.vars {
        if default_of(k).is_some() {
            let v = coerce(k, raw_from_mat(k, a))
                .map_err(|e| InputError(format!("{}: parameter {k}: {e}", path.display())))?;
            out.insert(k.clone(), v);
        }
    }
    Ok(out)
}

/// Effective parameters for work in `folder` (a patch folder or the root).
pub fn load_params(root: &Path, folder: &Path, overrides: &BTreeMap<String, Value>) -> Result<Params, InputError> {
    let mut vals = BTreeMap::new();
    for cand in [folder.join("parms.mat"), root.join("parms.mat")] {
        if cand.is_file() {
            vals.extend(read_parms(&cand)?);
            break;
        }
    }
    if folder.join("localparms.mat").is_file() {
        vals.extend(read_parms(&folder.join("localparms.mat"))?);
    }
    let flavour = layout::read_flavour(root)?;
    if flavour == "snap" || flavour == "gamma" {
        let need = missing(vals.get("lambda")) || missing(vals.get("heading")) || !vals.contains_key("platform");
        if need && root.join("rsc.txt").is_file() {
            let (lam, heading, platform) = layout::rslc_par_params(root)?;
            if missing(vals.get("lambda")) {
                vals.insert("lambda".into(), Value::Float(lam));
            }
            if missing(vals.get("heading")) {
                vals.insert("heading".into(), Value::Float(heading));
            }
            vals.entry("platform".into()).or_insert(Value::Str(platform));
        }
    } else {
        for (name, fname) in [("lambda", "lambda.1.in"), ("heading", "heading.1.in"), ("slc_osf", "slc_osfactor.1.in")] {
            if missing(vals.get(name)) && root.join(fname).is_file() {
                vals.insert(name.into(), Value::Float(layout::read_scalar(&root.join(fname), false)?));
            }
        }
    }
    vals.entry("insar_processor".into()).or_insert(Value::Str(flavour));
    for (k, v) in overrides {
        vals.insert(k.clone(), v.clone());
    }
    Ok(Params::from_values(vals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercions() {
        assert_eq!(coerce("clap_win", Raw::Num(16.0)), Ok(Value::Int(16)));
        assert!(coerce("clap_win", Raw::Num(16.5)).is_err());
        assert_eq!(coerce("weed_max_noise", Raw::Str("inf".into())), Ok(Value::Float(INF)));
        assert_eq!(coerce("drop_ifg_index", Raw::Str("[1, 3]".into())), Ok(Value::List(vec![1.0, 3.0], true)));
        assert!(coerce("select_method", Raw::Num(1.0)).is_err());
        assert_eq!(Value::List(vec![-INF, INF], false).to_json(), serde_json::json!(["-inf", "inf"]));
        assert_eq!(Value::List(vec![2.0], true).to_json(), serde_json::json!([2]));
    }
}
