//! A small command-line option parser with argparse's conventions (`--opt VALUE`,
//! `--opt=VALUE`, flags, repeatable options); errors are one line, exit status 2.

use std::collections::HashMap;

/// How an option takes values.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Flag,
    Value,
    Repeat,
}

/// Parsed options: flags present, last value of each value option, every value of repeatables.
#[derive(Default, Debug)]
pub struct Parsed {
    pub flags: Vec<String>,
    pub values: HashMap<String, Vec<String>>,
}

impl Parsed {
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.last()).map(String::as_str)
    }
    pub fn all(&self, name: &str) -> Option<Vec<String>> {
        self.values.get(name).cloned()
    }
    /// An integer option (`what` names it in the error).
    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.value(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| format!("argument {name}: invalid int value: '{v}'")),
        }
    }
}

/// Parse `args` against `spec` (option name -> kind); unknown options and missing values are errors.
pub fn parse(args: &[String], spec: &[(&str, Kind)]) -> Result<Parsed, String> {
    let kinds: HashMap<&str, Kind> = spec.iter().copied().collect();
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let Some(&kind) = kinds.get(name.as_str()) else {
            return Err(format!("unrecognized arguments: {a}"));
        };
        match kind {
            Kind::Flag => {
                if inline.is_some() {
                    return Err(format!("argument {name}: ignored explicit argument '{}'", inline.unwrap_or_default()));
                }
                out.flags.push(name);
            }
            Kind::Value | Kind::Repeat => {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        match args.get(i) {
                            Some(v) if !v.starts_with("--") => v.clone(),
                            _ => return Err(format!("argument {name}: expected one argument")),
                        }
                    }
                };
                out.values.entry(name).or_default().push(v);
            }
        }
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn argparse_conventions() {
        let spec = [("--dataset", Kind::Value), ("--json", Kind::Flag), ("--patch", Kind::Repeat)];
        let p = parse(&v(&["--dataset", "d", "--json", "--patch=A", "--patch", "B"]), &spec).expect("parse");
        assert_eq!(p.value("--dataset"), Some("d"));
        assert!(p.flag("--json"));
        assert_eq!(p.all("--patch"), Some(v(&["A", "B"])));
        assert!(parse(&v(&["--nope"]), &spec).unwrap_err().contains("unrecognized"));
        assert!(parse(&v(&["--dataset"]), &spec).unwrap_err().contains("expected one argument"));
        let p = parse(&v(&["--dataset", "x"]), &[("--dataset", Kind::Value), ("--n", Kind::Value)]).expect("parse");
        assert_eq!(p.int("--n"), Ok(None));
        let p = parse(&v(&["--n", "q"]), &[("--n", Kind::Value)]).expect("parse");
        assert!(p.int("--n").is_err());
    }
}
