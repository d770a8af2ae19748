//! The checks-file validation benchmark: 5,000 checks with problems everywhere (unknown fields,
//! wrong types, bad values, unknown references), validated in one pass; every problem reported.
//!
//!     atalaya-bench-validate [--checks 5000] [--runs 7]
//!
//! Prints one Markdown row per file shape for docs/performance.md.

// A benchmark is a script told whole.
#![allow(clippy::too_many_lines)]

use std::time::Instant;

/// A checks file of `n` checks; of every `every` checks, two have a structural problem (an
/// unknown field, a wrong type) and two a semantic one (an unknown service, a bad URL); none when
/// `every` is above `n`. Returns the text and how many problems it holds.
fn file(n: usize, every: usize) -> (String, usize) {
    let mut yaml = String::from(
        "settings:\n  defaults: { interval: 1m, timeout: 10s }\ncustomers:\n  - { id: acme, name: ACME }\nservices:\n  - { id: shop, customer: acme, name: Shop }\nchecks:\n",
    );
    let mut problems = 0;
    for i in 0..n {
        let slot = if every > n { usize::MAX } else { i % every };
        let line = match (slot, i % 3) {
            (0, _) => {
                problems += 1;
                format!("  - {{ id: c{i}, service: shop, intreval: 1m, http: {{ url: 'https://s{i}.example/' }} }}\n")
            }
            (1, _) => {
                problems += 1;
                format!("  - {{ id: c{i}, service: shop, tcp: {{ host: s{i}.example, port: http }} }}\n")
            }
            (2, _) => {
                problems += 1;
                format!("  - {{ id: c{i}, service: nowhere, http: {{ url: 'https://s{i}.example/' }} }}\n")
            }
            (3, _) => {
                problems += 1;
                format!("  - {{ id: c{i}, service: shop, http: {{ url: 'gopher://s{i}.example/' }} }}\n")
            }
            (_, 0) => format!(
                "  - id: c{i}\n    service: shop\n    http:\n      url: https://s{i}.example/\n    expect:\n      status: [200]\n"
            ),
            _ => format!("  - {{ id: c{i}, service: shop, http: {{ url: 'https://s{i}.example/' }} }}\n"),
        };
        yaml.push_str(&line);
    }
    (yaml, problems)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse::<usize>()
                    .unwrap_or_else(|_| panic!("{name}: a number"))
            })
    };
    let n = arg("--checks").unwrap_or(5000);
    let runs = arg("--runs").unwrap_or(7);
    println!("| checks | problems | file size | validate median | slowest |");
    println!("|---|---|---|---|---|");
    for every in [n + 10, 1000, 100, 10] {
        let (text, problems) = file(n, every);
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let result = atalaya_core::load_str(&text, "bench.yaml", atalaya_core::Target::Local);
            times.push(t.elapsed().as_secs_f64());
            let found = match result {
                Ok(_) => 0,
                Err(e) => e.0.len(),
            };
            assert_eq!(found, problems, "every problem reported");
        }
        let slowest = times.iter().copied().fold(0.0, f64::max);
        println!(
            "| {n} | {problems} | {} KB | {:.0} ms | {:.0} ms |",
            text.len() / 1024,
            median(times) * 1e3,
            slowest * 1e3
        );
    }
}
