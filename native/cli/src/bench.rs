//! `pystamps-native bench` and `self-test`: every compiled kernel on generated inputs.

use crate::gen::{self, Rng};
use ndarray::{Array2, Array3};
use num_complex::{Complex32, Complex64};
use pystamps_core::{clap, gridding, histogram, scla, scn, topofit, weed_noise};
use std::process::ExitCode;
use std::time::Instant;

/// Command-line options of `bench`.
pub struct Options {
    pub large: bool,
    pub threads: usize,
    pub repeat: usize,
    pub json: bool,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Options { large: false, threads: 0, repeat: 3, json: false };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--json" => o.json = true,
                "--size" => match it.next().map(String::as_str) {
                    Some("small") => o.large = false,
                    Some("large") => o.large = true,
                    other => return Err(format!("--size takes small or large, got {other:?}")),
                },
                "--threads" => o.threads = it.next().and_then(|v| v.parse().ok()).ok_or("--threads takes an integer >= 0")?,
                "--repeat" => {
                    o.repeat = it.next().and_then(|v| v.parse().ok()).filter(|&k: &usize| k >= 1).ok_or("--repeat takes an integer >= 1")?
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(o)
    }
}

struct Row {
    kernel: &'static str,
    size: String,
    seconds: f64,
    extra: String,
}

fn best<F: FnMut()>(repeat: usize, mut f: F) -> f64 {
    (0..repeat)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn run_all(o: &Options) -> Vec<Row> {
    let th = o.threads;
    let k = if o.large { 5 } else { 1 };
    let mut rng = Rng::new(1);
    let mut rows = Vec::new();

    // topofit: shared baselines, per-pixel baselines, f64 coherence
    let (n, m, ntw) = (40_000 * k, 40, 1.0);
    let row = gen::baselines(&mut rng, m);
    let bm = gen::baseline_matrix(&mut rng, &row, n);
    let z = gen::phasors(&mut rng, &bm, 0.5);
    let nt = 2 * topofit::half_width(ntw) as usize + 1;
    let rowv = ndarray::Array1::from(row.clone());
    let s = best(o.repeat, || {
        std::hint::black_box(topofit::topofit_f32(z.view(), topofit::Baselines::Shared(rowv.view()), ntw, th));
    });
    let cmacs = (n * m * nt) as f64;
    let peak = topofit::peak_cmac_rate(m, nt, th);
    let search = topofit::trial_search_rate(z.view(), rowv.view(), ntw, th);
    rows.push(Row {
        kernel: "stage2_topofit_row_invariant",
        size: format!("{n} px x {m} ifg x {nt} trials"),
        seconds: s,
        extra: format!(
            "{:.2e} complex MAC/s = {:.0} % of the inner-loop peak {:.2e}/s (trial search alone: {:.0} %)",
            cmacs / s,
            100.0 * cmacs / s / peak,
            peak,
            100.0 * search / peak
        ),
    });
    let s = best(o.repeat, || {
        std::hint::black_box(topofit::topofit_f32(z.view(), topofit::Baselines::PerPixel(bm.view()), ntw, th));
    });
    rows.push(Row { kernel: "stage2_topofit", size: format!("{n} px x {m} ifg x {nt} trials"), seconds: s, extra: String::new() });
    let z64 = z.mapv(|c| Complex64::new(c.re as f64, c.im as f64));
    let row64 = rowv.mapv(|x| x as f64);
    let s = best(o.repeat, || {
        std::hint::black_box(topofit::topofit_coh_f64(z64.view(), row64.view(), ntw, th));
    });
    rows.push(Row { kernel: "stage2_topofit_coh_row_invariant", size: format!("{n} px x {m} ifg"), seconds: s, extra: String::new() });
    let row64v: Vec<f64> = row64.to_vec();
    let s = best(o.repeat, || {
        std::hint::black_box(topofit::random_phase_coh(&row64v[..20], 0.33, 300_000, 2005, th));
    });
    rows.push(Row { kernel: "stage2_random_phase_coh", size: "300000 px x 20 ifg".into(), seconds: s, extra: String::new() });

    // histogram and gridding
    let v: Vec<f64> = (0..2_000_000 * k).map(|_| rng.uniform()).collect();
    let centres: Vec<f64> = (0..100).map(|i| 0.005 + 0.01 * i as f64).collect();
    let s = best(o.repeat, || {
        std::hint::black_box(histogram::hist_centres(&v, &centres, th));
    });
    rows.push(Row { kernel: "stage2_histogram", size: format!("{} values", v.len()), seconds: s, extra: String::new() });
    let ncell = 150 * 150;
    let cell = ndarray::Array1::from_shape_fn(n, |_| rng.below(ncell) as i64);
    let s = best(o.repeat, || {
        std::hint::black_box(gridding::grid_accumulate(z.view(), cell.view(), ncell, th).unwrap());
    });
    rows.push(Row { kernel: "stage2_grid_accumulate", size: format!("{n} px x {m} ifg -> {ncell} cells"), seconds: s, extra: String::new() });

    // CLAP
    let (gi, gj, gm) = (134, 134, 20 * k);
    let g = gen::grid(&mut rng, gi, gj, gm);
    let lp = clap::low_pass(50.0, 32, 800.0);
    let s = best(o.repeat, || {
        std::hint::black_box(clap::clap_filt_stack(g.view(), 1.0, 0.3, 24, 8, lp.view(), th).unwrap());
    });
    let nwin = clap::window_starts(gi, 24, 6).unwrap().len() * clap::window_starts(gj, 24, 6).unwrap().len() * gm;
    rows.push(Row {
        kernel: "stage2_clap_filter",
        size: format!("{gi} x {gj} x {gm} grid ({nwin} windows)"),
        seconds: s,
        extra: format!("{:.1} us/window", 1e6 * s / nwin as f64),
    });
    let g32 = g.mapv(|c| Complex32::new(c.re as f32, c.im as f32));
    let lp32 = lp.mapv(|x| x as f32);
    let nblk = 5000 * k;
    let blocks = Array3::from_shape_fn((nblk, 32, 32), |(b, i, j)| g32[[(b + i) % gi, (b * 7 + j) % gj, b % gm]]);
    let s = best(o.repeat, || {
        std::hint::black_box(clap::clap_filt_patch(blocks.view(), 1.0, 0.3, lp32.view(), th).unwrap());
    });
    rows.push(Row { kernel: "stage3_clap_filt_patch", size: format!("{nblk} blocks 32 x 32"), seconds: s, extra: String::new() });
    let nc = 2500 * k;
    let cells = Array2::from_shape_fn((nc, 2), |(c, d)| 1 + ((c * 37 + d * 11) % if d == 0 { gi } else { gj }) as i64);
    let s = best(o.repeat, || {
        std::hint::black_box(clap::patch_phase(g32.view(), cells.view(), 32, 1, 1.0, 0.3, lp32.view(), th).unwrap());
    });
    rows.push(Row {
        kernel: "stage3_patch_phase",
        size: format!("{nc} cells x {gm} ifg"),
        seconds: s,
        extra: format!("{:.1} us/block", 1e6 * s / (nc * gm) as f64),
    });

    // stage 4, 7, 8
    let (np, u) = (10_000 * k, 30);
    let rowu = gen::baselines(&mut rng, u);
    let bmu = gen::baseline_matrix(&mut rng, &rowu, np);
    let zu = gen::phasors(&mut rng, &bmu, 0.6);
    let edges = gen::edges(&mut rng, np);
    let day = gen::days(&mut rng, u);
    let bp = ndarray::Array1::from_shape_fn(u, |j| rowu[j] as f64);
    let s = best(o.repeat, || {
        std::hint::black_box(weed_noise::edge_stats(zu.view(), edges.view(), day.view(), bp.view(), 180.0, th).unwrap());
    });
    rows.push(Row { kernel: "stage4_edge_stats", size: format!("{} arcs x {u} images", edges.nrows()), seconds: s, extra: String::new() });
    let ns = 100_000 * k;
    let bms = gen::baseline_matrix(&mut rng, &rowu, ns);
    let phs = Array2::from_shape_fn((ns, u), |(p, j)| 0.001 * (p % 17) as f32 * bms[[p, j]] + (rng.normal() as f32));
    let opt = scla::SclaOptions { master_pos: Some(u / 2), ifg_std: None, l1: false, master_day: day[u / 2] };
    let s = best(o.repeat, || {
        std::hint::black_box(scla::scla_fit(phs.view(), bms.view(), day.view(), &opt, th).unwrap());
    });
    rows.push(Row { kernel: "stage7_scla", size: format!("{ns} px x {u} images"), seconds: s, extra: String::new() });
    let e8 = gen::edges(&mut rng, ns);
    let s = best(o.repeat, || {
        std::hint::black_box(scn::edge_highpass(phs.view(), e8.view(), day.view(), 60.0, Some(u / 2), th).unwrap());
    });
    rows.push(Row { kernel: "stage8_edge_noise", size: format!("{} arcs x {u} images", e8.nrows()), seconds: s, extra: String::new() });
    rows
}

pub fn run(o: &Options) -> ExitCode {
    let threads = pystamps_core::pool::pool(o.threads).current_num_threads();
    let rows = run_all(o);
    if o.json {
        let items: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"kernel\": \"{}\", \"size\": \"{}\", \"seconds\": {:.6}, \"note\": \"{}\"}}",
                    r.kernel, r.size, r.seconds, r.extra
                )
            })
            .collect();
        println!(
            "{{\"threads\": {threads}, \"size\": \"{}\", \"repeat\": {}, \"kernels\": [{}]}}",
            if o.large { "large" } else { "small" },
            o.repeat,
            items.join(", ")
        );
    } else {
        println!("pystamps-native bench: {threads} thread(s), best of {} run(s), size {}", o.repeat, if o.large { "large" } else { "small" });
        println!("{:34} {:>10}  {:42} note", "kernel", "seconds", "input");
        for r in &rows {
            println!("{:34} {:>10.4}  {:42} {}", r.kernel, r.seconds, r.size, r.extra);
        }
    }
    ExitCode::SUCCESS
}

/// Known properties of every kernel on small generated inputs.
pub fn self_test() -> ExitCode {
    let mut fails = Vec::new();
    let mut check = |name: &str, ok: bool| {
        println!("{:34} {}", name, if ok { "ok" } else { "FAILED" });
        if !ok {
            fails.push(name.to_string());
        }
    };
    // topofit: a noiseless pixel is fitted with coherence 1
    let b: Vec<f32> = vec![-120.0, -40.0, 10.0, 35.0, 90.0, 150.0, -3.0, 60.0];
    let bc: f32 = b.iter().sum::<f32>() / b.len() as f32;
    let b: Vec<f32> = b.iter().map(|x| x - bc).collect();
    let bv = ndarray::Array1::from(b.clone());
    let z = Array2::from_shape_fn((2, b.len()), |(p, k)| {
        let ph = 0.002 * (p + 1) as f32 * b[k] + 0.4;
        Complex32::new(ph.cos(), ph.sin())
    });
    let (kk, _, g, _) = topofit::topofit_f32(z.view(), topofit::Baselines::Shared(bv.view()), 1.0, 1);
    check("stage2_topofit_row_invariant", (kk[0] - 0.002).abs() < 1e-5 && g[0] > 0.9999);
    let bm = Array2::from_shape_fn((2, b.len()), |(_, k)| b[k]);
    let (k2, _, g2, _) = topofit::topofit_f32(z.view(), topofit::Baselines::PerPixel(bm.view()), 1.0, 2);
    check("stage2_topofit", k2 == kk && g2 == g);
    let z64 = z.mapv(|c| Complex64::new(c.re as f64, c.im as f64));
    let g64 = topofit::topofit_coh_f64(z64.view(), bv.mapv(|x| x as f64).view(), 1.0, 1);
    check("stage2_topofit_coh_row_invariant", (g64[0] - 1.0).abs() < 1e-6);
    let r = topofit::random_phase_coh(&[-100.0, -20.0, 30.0, 80.0, 10.0], 0.5, 1000, 2005, 2);
    check("stage2_random_phase_coh", r.iter().all(|&x| (0.0..=1.0).contains(&x)) && r.iter().sum::<f64>() / 1000.0 < 0.8);
    check("stage2_histogram", histogram::hist_centres(&[-5.0, 1.0, 1.0000001, 2.0, 9.0, f64::NAN], &[0.5, 1.5, 2.5], 1) == vec![2.0, 2.0, 1.0]);
    let v = Array2::from_shape_fn((4, 2), |(p, k)| Complex32::new((p + k) as f32, 1.0));
    let cells = ndarray::arr1(&[0i64, 1, 0, 2]);
    let acc = gridding::grid_accumulate(v.view(), cells.view(), 3, 1).unwrap();
    check("stage2_grid_accumulate", acc[[0, 0]] == Complex32::new(2.0, 2.0) && acc[[2, 1]] == Complex32::new(4.0, 1.0));
    let ph = Complex64::new(0.6f64.cos(), 0.6f64.sin());
    let gg = Array3::from_elem((40, 40, 1), ph);
    let lp = clap::low_pass(50.0, 32, 800.0);
    let out = clap::clap_filt_stack(gg.view(), 1.0, 0.3, 24, 8, lp.view(), 1).unwrap();
    check("stage2_clap_filter", (out[[20, 20, 0]].arg() - 0.6).abs() < 1e-9);
    let g32 = Array3::from_elem((1, 32, 32), Complex32::new(0.6f32.cos(), 0.6f32.sin()));
    let lp32 = lp.mapv(|x| x as f32);
    let o3 = clap::clap_filt_patch(g32.view(), 1.0, 0.3, lp32.view(), 1).unwrap();
    check("stage3_clap_filt_patch", (o3[[0, 16, 16]].arg() - 0.6).abs() < 1e-5);
    let gp = Array3::from_elem((40, 40, 2), Complex32::new(0.6f32.cos(), 0.6f32.sin()));
    let cells = Array2::from_shape_vec((1, 2), vec![20i64, 20]).unwrap();
    let (p2, fits) = clap::patch_phase(gp.view(), cells.view(), 32, 1, 1.0, 0.3, lp32.view(), 1).unwrap();
    check("stage3_patch_phase", fits[0] && (p2[[0, 1]].arg() - 0.6).abs() < 1e-5);
    let day = ndarray::arr1(&[0.0, 35.0, 70.0, 105.0, 140.0, 175.0]);
    let bp = ndarray::arr1(&[0.0, 50.0, -20.0, 80.0, 10.0, -60.0]);
    let zz = Array2::from_shape_fn((4, 6), |(p, k)| {
        let a = 0.3 * k as f32 + 0.5 * ((p * 3 + k * 5) % 7) as f32;
        Complex32::new(a.cos(), a.sin())
    });
    let e = Array2::from_shape_vec((3, 2), vec![0i64, 1, 1, 2, 2, 3]).unwrap();
    let (sd, mx) = weed_noise::edge_stats(zz.view(), e.view(), day.view(), bp.view(), 180.0, 1).unwrap();
    check("stage4_edge_stats", sd.iter().zip(&mx).all(|(&s, &m)| s >= 0.0 && m >= 0.0 && m <= std::f32::consts::PI + 1e-3));
    let bm6 = Array2::from_shape_fn((3, 6), |(_, k)| bp[k] as f32);
    let ph6 = Array2::from_shape_fn((3, 6), |(p, k)| 0.001 * (p + 1) as f32 * bp[k] as f32);
    let opt = scla::SclaOptions { master_pos: Some(0), ifg_std: None, l1: false, master_day: 0.0 };
    let (ks, cs) = scla::scla_fit(ph6.view(), bm6.view(), day.view(), &opt, 1).unwrap();
    check("stage7_scla", ks.iter().zip(&cs).all(|(k, c)| k.is_finite() && c.is_finite()));
    let ph8 = Array2::from_shape_fn((2, 6), |(i, j)| 0.1 * j as f32 + 0.5 * i as f32);
    let e8 = Array2::from_shape_vec((1, 2), vec![0i64, 1]).unwrap();
    let hp = scn::edge_highpass(ph8.view(), e8.view(), day.view(), 30.0, Some(0), 1).unwrap();
    check("stage8_edge_noise", hp.iter().all(|v| v.abs() < 1e-6));
    if fails.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("pystamps-native self-test: {} kernel(s) failed: {}", fails.len(), fails.join(", "));
        ExitCode::FAILURE
    }
}
