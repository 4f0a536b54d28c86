//! Parsers for the mt_prep files of a dataset root and patch (as `pystamps_batch.dataset.mtprep`).
//!
//! Each parser reads one file and returns a one-line error naming it (missing, empty,
//! non-numeric at line k, wrong size ...), worded as the Python parsers.

use std::path::Path;

use num_complex::Complex32;

/// Python's `repr` of a short string token: `'tok'`.
fn repr(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Python `float()` of a token (also `inf`, `nan`, `1e3`).
pub(crate) fn parse_float(t: &str) -> Option<f64> {
    let t = t.trim();
    if t.is_empty() || t.contains('_') {
        return None;
    }
    t.parse::<f64>().ok()
}

/// The text of a file; "file not found" / "not a text file" / "cannot read" errors.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    if !path.is_file() {
        return Err(format!("{}: file not found", path.display()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read ({e})", path.display()))?;
    String::from_utf8(bytes).map_err(|_| format!("{}: not a text file", path.display()))
}

/// All whitespace-separated numbers of a text file (float64); with `expect`, their count.
pub fn read_numbers(path: &Path, expect: Option<usize>, what: &str) -> Result<Vec<f64>, String> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    for t in text.split_whitespace() {
        match parse_float(t) {
            Some(v) => out.push(v),
            None => {
                let line = text[..text.find(t).unwrap_or(0)].matches('\n').count() + 1;
                return Err(format!("{}: line {line}: {} is not a number", path.display(), repr(t)));
            }
        }
    }
    if let Some(e) = expect {
        if out.len() != e {
            return Err(format!("{}: found {} {what}, expected {e}", path.display(), out.len()));
        }
    }
    Ok(out)
}

/// Python's `%g` of a float, enough for the messages here.
pub(crate) fn fmt_g(x: f64) -> String {
    if x.is_finite() && x == x.trunc() && x.abs() < 1e16 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// The first number of a one-value text file; with `integer`, it must be a positive integer.
pub fn read_scalar(path: &Path, integer: bool) -> Result<f64, String> {
    let v = read_numbers(path, None, "numbers")?;
    let x = *v.first().ok_or_else(|| format!("{}: empty, expected one number", path.display()))?;
    if integer && (x != x.trunc() || !x.is_finite() || x <= 0.0) {
        return Err(format!("{}: {} is not a positive integer", path.display(), fmt_g(x)));
    }
    Ok(x)
}

/// YYYYMMDD tokens (day.1.in, master_day.1.in).
pub fn read_dates(path: &Path, expect: Option<usize>) -> Result<Vec<String>, String> {
    let text = read_text(path)?;
    let dates: Vec<String> = text.split_whitespace().map(String::from).collect();
    for (i, d) in dates.iter().enumerate() {
        if !valid_date(d) {
            return Err(format!("{}: line {}: {} is not a YYYYMMDD date", path.display(), i + 1, repr(d)));
        }
    }
    if let Some(e) = expect {
        if dates.len() != e {
            return Err(format!("{}: found {} dates, expected {e}", path.display(), dates.len()));
        }
    }
    if dates.is_empty() {
        return Err(format!("{}: empty, expected YYYYMMDD dates", path.display()));
    }
    Ok(dates)
}

/// 8 digits with month 1-12 and day 1-31 (the Python check).
pub(crate) fn valid_date(d: &str) -> bool {
    d.len() == 8
        && d.bytes().all(|b| b.is_ascii_digit())
        && (1..=12).contains(&d[4..6].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&d[6..8].parse::<u32>().unwrap_or(0))
}

/// pscands.1.ij: n rows [id, az, rg] (az/rg 0-based, non-negative integers).
pub fn read_ij(path: &Path) -> Result<Vec<[f64; 3]>, String> {
    let text = read_text(path)?;
    let mut vals = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for t in line.split_whitespace() {
            match parse_float(t) {
                Some(v) => vals.push(v),
                None => return Err(format!("{}: line {}: {} is not a number", path.display(), i + 1, repr(t))),
            }
        }
    }
    if vals.len() % 3 != 0 {
        return Err(format!("{}: {} numbers is not a multiple of 3 (id az rg per line)", path.display(), vals.len()));
    }
    let rows: Vec<[f64; 3]> = vals.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    let bad = rows
        .iter()
        .any(|r| r[1] < 0.0 || r[2] < 0.0 || r.iter().any(|v| *v != v.round() || !v.is_finite()));
    if bad {
        return Err(format!("{}: id/az/rg must be non-negative integers", path.display()));
    }
    Ok(rows)
}

/// Raw bytes of a binary file that must hold exactly `count` 4-byte values.
fn read_exact4(path: &Path, count: usize, what: &str) -> Result<Vec<u8>, String> {
    if !path.is_file() {
        return Err(format!("{}: file not found", path.display()));
    }
    let size = std::fs::metadata(path).map_err(|e| format!("{}: cannot read ({e})", path.display()))?.len();
    let want = 4 * count as u64;
    if size != want {
        return Err(format!("{}: {size} bytes, expected {want} ({what})", path.display()));
    }
    std::fs::read(path).map_err(|e| format!("{}: cannot read ({e})", path.display()))
}

/// `count` float32 values of a raw file, little- or big-endian.
pub fn read_binary_f32(path: &Path, count: usize, big_endian: bool, what: &str) -> Result<Vec<f32>, String> {
    let b = read_exact4(path, count, what)?;
    Ok(b.chunks_exact(4)
        .map(|c| {
            let a = [c[0], c[1], c[2], c[3]];
            if big_endian {
                f32::from_be_bytes(a)
            } else {
                f32::from_le_bytes(a)
            }
        })
        .collect())
}

/// `count` complex64 values (pairs of float32) of a raw file.
pub(crate) fn read_complex(path: &Path, count: usize, big_endian: bool, what: &str) -> Result<Vec<Complex32>, String> {
    let v = read_binary_f32(path, 2 * count, big_endian, what)?;
    Ok(v.chunks_exact(2).map(|c| Complex32::new(c[0], c[1])).collect())
}

/// calamp.out: lines `<slc path> <calibration constant>`.
pub fn read_calamp(path: &Path) -> Result<Vec<(String, f64)>, String> {
    let mut out = Vec::new();
    for (i, line) in read_text(path)?.lines().enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        if parts.len() < 2 {
            return Err(format!("{}: line {}: expected '<slc path> <constant>'", path.display(), i + 1));
        }
        let c = parse_float(parts[1])
            .ok_or_else(|| format!("{}: line {}: {} is not a number", path.display(), i + 1, repr(parts[1])))?;
        out.push((parts[0].to_string(), c));
    }
    Ok(out)
}

/// look_angle.1.in / bperp_*.1.in: 50 x 50 x 2 values -> (value at h=0, at h=1000 m), each
/// 50 x 50 row-major with rows = azimuth.
pub fn read_grid_file(path: &Path) -> Result<(Vec<f64>, Vec<f64>), String> {
    let v = read_numbers(path, Some(5000), "values (50 x 50 x 2)")?;
    Ok((v.iter().step_by(2).copied().collect(), v.iter().skip(1).step_by(2).copied().collect()))
}
