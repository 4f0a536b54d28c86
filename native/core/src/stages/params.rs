//! StaMPS processing parameters as the stage functions read them (`pystamps_batch/params.py`).
//!
//! A [`ParamMap`] holds the values of a `Params` mapping (defaults, `parms.mat`, config
//! overrides already merged by the caller); the accessors convert them with the same rules
//! as the Python stages: `float(v)`, `int(v)`, `str(v)`, `Params.flag` and
//! `Params.index_list`.  Shared by the `select` and `weed` stage modules.

use std::collections::HashMap;

/// One parameter value (the Python types a `Params` value can have).
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    List(Vec<ParamValue>),
}

impl ParamValue {
    /// Python `str(v)` (floats as Rust prints them; only flags and names are read as text).
    pub fn py_str(&self) -> String {
        match self {
            ParamValue::Int(i) => i.to_string(),
            ParamValue::Float(f) => format!("{f:?}"),
            ParamValue::Bool(b) => {
                if *b {
                    "True".into()
                } else {
                    "False".into()
                }
            }
            ParamValue::Text(s) => s.clone(),
            ParamValue::List(v) => format!("[{}]", v.iter().map(|x| x.py_str()).collect::<Vec<_>>().join(", ")),
        }
    }

    /// Python `float(v)` (a one-element list as NumPy's size-1 arrays).
    pub fn py_float(&self) -> Result<f64, String> {
        match self {
            ParamValue::Int(i) => Ok(*i as f64),
            ParamValue::Float(f) => Ok(*f),
            ParamValue::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
            ParamValue::Text(s) => parse_py_float(s),
            ParamValue::List(v) if v.len() == 1 => v[0].py_float(),
            ParamValue::List(_) => Err(format!("{} is not a number", self.py_str())),
        }
    }

    /// Python `int(v)` (truncation toward zero for floats).
    pub fn py_int(&self) -> Result<i64, String> {
        match self {
            ParamValue::Int(i) => Ok(*i),
            ParamValue::Float(f) if f.is_finite() => Ok(f.trunc() as i64),
            ParamValue::Float(f) => Err(format!("cannot convert {f} to an integer")),
            ParamValue::Bool(b) => Ok(*b as i64),
            ParamValue::Text(s) => s.trim().parse::<i64>().map_err(|_| format!("{s:?} is not an integer")),
            ParamValue::List(v) if v.len() == 1 => v[0].py_int(),
            ParamValue::List(_) => Err(format!("{} is not an integer", self.py_str())),
        }
    }
}

/// Python `float(str)`: decimal, exponent, `inf`/`infinity`/`nan` in any case, surrounding blanks.
fn parse_py_float(s: &str) -> Result<f64, String> {
    let t = s.trim().to_ascii_lowercase().replace('_', "");
    let (sign, body) = match t.strip_prefix('-') {
        Some(b) => (-1.0, b),
        None => (1.0, t.strip_prefix('+').unwrap_or(&t)),
    };
    match body {
        "inf" | "infinity" => Ok(sign * f64::INFINITY),
        "nan" => Ok(f64::NAN),
        _ => t.parse::<f64>().map_err(|_| format!("{s:?} is not a number")),
    }
}

/// The parameters of one stage run, by StaMPS name.
#[derive(Debug, Clone, Default)]
pub struct ParamMap(pub HashMap<String, ParamValue>);

impl ParamMap {
    pub fn new() -> Self {
        ParamMap(HashMap::new())
    }

    /// Sets `key` (builder style, for tests and callers).
    pub fn with(mut self, key: &str, v: ParamValue) -> Self {
        self.0.insert(key.to_string(), v);
        self
    }

    pub fn get(&self, key: &str) -> Result<&ParamValue, String> {
        self.0.get(key).ok_or_else(|| format!("parameter {key} is missing"))
    }

    /// `float(params[key])`.
    pub fn float(&self, key: &str) -> Result<f64, String> {
        self.get(key)?.py_float().map_err(|e| format!("parameter {key}: {e}"))
    }

    /// `int(params[key])`.
    pub fn int(&self, key: &str) -> Result<i64, String> {
        self.get(key)?.py_int().map_err(|e| format!("parameter {key}: {e}"))
    }

    /// `str(params[key])`.
    pub fn text(&self, key: &str) -> Result<String, String> {
        Ok(self.get(key)?.py_str())
    }

    /// `Params.flag(key)`: `str(v).strip().lower()` is one of y, yes, 1, true.
    pub fn flag(&self, key: &str) -> Result<bool, String> {
        let s = self.get(key)?.py_str().trim().to_lowercase();
        Ok(matches!(s.as_str(), "y" | "yes" | "1" | "true"))
    }

    /// `Params.index_list(key)`: a missing key is empty; text "" / "[]" is empty, else
    /// integers separated by blanks or commas; a list gives `int` of each element; a
    /// scalar gives `[int(v)]`.
    pub fn index_list(&self, key: &str) -> Result<Vec<i64>, String> {
        let Some(v) = self.0.get(key) else { return Ok(Vec::new()) };
        match v {
            ParamValue::Text(s) => {
                let t = s.trim();
                if t.is_empty() || t == "[]" {
                    return Ok(Vec::new());
                }
                s.replace(',', " ")
                    .split_whitespace()
                    .map(|w| w.parse::<i64>().map_err(|_| format!("parameter {key}: {w:?} is not an integer")))
                    .collect()
            }
            ParamValue::List(items) => {
                items.iter().map(|x| x.py_int().map_err(|e| format!("parameter {key}: {e}"))).collect()
            }
            other => Ok(vec![other.py_int().map_err(|e| format!("parameter {key}: {e}"))?]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_conversions() {
        let p = ParamMap::new()
            .with("a", ParamValue::Text(" Y ".into()))
            .with("b", ParamValue::Float(1.0))
            .with("c", ParamValue::Int(1))
            .with("d", ParamValue::Text("1, 3 5".into()))
            .with("e", ParamValue::List(vec![ParamValue::Float(2.7), ParamValue::Int(4)]))
            .with("f", ParamValue::Text("-Inf".into()))
            .with("g", ParamValue::Text("[]".into()));
        assert!(p.flag("a").unwrap());
        assert!(!p.flag("b").unwrap()); // str(1.0) == "1.0"
        assert!(p.flag("c").unwrap());
        assert_eq!(p.index_list("d").unwrap(), vec![1, 3, 5]);
        assert_eq!(p.index_list("e").unwrap(), vec![2, 4]);
        assert_eq!(p.index_list("g").unwrap(), Vec::<i64>::new());
        assert_eq!(p.index_list("missing").unwrap(), Vec::<i64>::new());
        assert_eq!(p.index_list("c").unwrap(), vec![1]);
        assert_eq!(p.float("f").unwrap(), f64::NEG_INFINITY);
        assert_eq!(p.int("b").unwrap(), 1);
        assert!(p.float("missing").is_err());
    }
}
