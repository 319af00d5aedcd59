//! The harness: statistics (medians, percentiles, CPU time) and the report, the table printed and
//! the JSON written.

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};

/// What every part of the bench returns: a failed section is reported, not a panic.
pub(crate) type BenchResult<T> = Result<T, Box<dyn Error>>;

/// Order statistics of a set of samples, in the unit they were given in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) runs: usize,
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) mean: f64,
}

impl Stats {
    pub(crate) fn of(samples: &[f64]) -> Stats {
        let mut sorted: Vec<f64> = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let runs = sorted.len();
        if runs == 0 {
            return Stats {
                runs,
                p50: f64::NAN,
                p90: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
                mean: f64::NAN,
            };
        }
        Stats {
            runs,
            p50: percentile(&sorted, 0.5),
            p90: percentile(&sorted, 0.9),
            min: sorted[0],
            max: sorted[runs - 1],
            mean: sorted.iter().sum::<f64>() / runs as f64,
        }
    }

    pub(crate) fn to_json(self, unit: &str, samples: &[f64]) -> Value {
        json!({
            "unit": unit,
            "runs": self.runs,
            "p50": finite(self.p50),
            "p90": finite(self.p90),
            "min": finite(self.min),
            "max": finite(self.max),
            "mean": finite(self.mean),
            "samples": samples.iter().map(|s| finite(*s)).collect::<Vec<_>>(),
        })
    }

    /// `p50 (p90)` with a unit.
    pub(crate) fn show(self, unit: &str) -> String {
        format!("{} {unit} (p90 {})", num(self.p50), num(self.p90))
    }
}

/// Linear interpolation between the closest ranks of sorted samples.
pub(crate) fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let position = fraction * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    let weight = position - low as f64;
    sorted[low] * (1.0 - weight) + sorted[high] * weight
}

pub(crate) fn finite(value: f64) -> Value {
    if value.is_finite() {
        json!(value)
    } else {
        Value::Null
    }
}

/// A number with as many decimals as its size deserves.
pub(crate) fn num(value: f64) -> String {
    let magnitude = value.abs();
    if !value.is_finite() {
        "n/a".to_owned()
    } else if magnitude >= 1000.0 {
        format!("{value:.0}")
    } else if magnitude >= 100.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

pub(crate) fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// One line of the table.
pub(crate) struct Row {
    pub(crate) section: String,
    pub(crate) metric: String,
    pub(crate) measured: String,
    pub(crate) target: String,
    pub(crate) verdict: &'static str,
}

#[derive(Default)]
pub(crate) struct Report {
    pub(crate) rows: Vec<Row>,
    pub(crate) json: Map<String, Value>,
    /// `/proc/loadavg` (1, 5, 15 minutes) before and after: how busy the machine was.
    pub(crate) load_before: Option<String>,
    pub(crate) load_after: Option<String>,
}

/// CPU time used so far, in ms: this process (gateway, pool and bench, all threads) and its
/// children that were waited for (workers: each fresh one is reaped before its execution
/// returns). From `/proc/self/stat`, in clock ticks of 10 ms (Linux's fixed USER_HZ of 100), so
/// only sums over many runs mean anything.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CpuTime {
    pub(crate) own_ms: f64,
    pub(crate) children_ms: f64,
}

impl CpuTime {
    pub(crate) fn now() -> CpuTime {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return CpuTime::default();
        };
        // Fields after the command name (which may hold spaces) start at field 3 (state).
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return CpuTime::default();
        };
        let field = |number: usize| -> f64 {
            rest.split_whitespace()
                .nth(number - 3)
                .and_then(|value| value.parse::<f64>().ok())
                .unwrap_or(0.0)
                * 10.0
        };
        CpuTime {
            own_ms: field(14) + field(15),
            children_ms: field(16) + field(17),
        }
    }

    /// The CPU time used since `earlier`, added to `self`.
    pub(crate) fn add_since(&mut self, earlier: CpuTime) {
        let now = CpuTime::now();
        self.own_ms += now.own_ms - earlier.own_ms;
        self.children_ms += now.children_ms - earlier.children_ms;
    }

    pub(crate) fn total_ms(self) -> f64 {
        self.own_ms + self.children_ms
    }
}

/// The 1, 5 and 15 minute load averages, where the system tells them.
pub(crate) fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

impl Report {
    pub(crate) fn row(
        &mut self,
        section: &str,
        metric: impl Into<String>,
        measured: impl Into<String>,
    ) {
        self.rows.push(Row {
            section: section.to_owned(),
            metric: metric.into(),
            measured: measured.into(),
            target: String::new(),
            verdict: "",
        });
    }

    pub(crate) fn check(
        &mut self,
        section: &str,
        metric: impl Into<String>,
        measured: impl Into<String>,
        target: impl Into<String>,
        met: bool,
    ) {
        self.rows.push(Row {
            section: section.to_owned(),
            metric: metric.into(),
            measured: measured.into(),
            target: target.into(),
            verdict: if met { "PASS" } else { "FAIL" },
        });
    }

    pub(crate) fn section_json(&mut self, key: &str, value: Value) {
        self.json.insert(key.to_owned(), value);
    }

    pub(crate) fn error(&mut self, key: &str, title: &str, error: &dyn Error) {
        eprintln!("bench: {title} could not run: {error}");
        self.rows.push(Row {
            section: key.to_owned(),
            metric: "section could not run".to_owned(),
            measured: error.to_string(),
            target: String::new(),
            verdict: "ERROR",
        });
        self.json
            .insert(key.to_owned(), json!({"error": error.to_string()}));
    }

    pub(crate) fn print(&self, total: Duration) {
        let headers = ["section", "metric", "measured", "target", ""];
        let mut widths = headers.map(str::len);
        for row in &self.rows {
            let cells = [
                row.section.as_str(),
                row.metric.as_str(),
                row.measured.as_str(),
                row.target.as_str(),
                row.verdict,
            ];
            for (width, cell) in widths.iter_mut().zip(cells) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 5]| {
            let mut text = String::new();
            for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if index > 0 {
                    text.push_str(" | ");
                }
                text.push_str(cell);
                if index < 4 {
                    text.push_str(&" ".repeat(width - cell.chars().count()));
                }
            }
            text.trim_end().to_owned()
        };
        let mut out = std::io::stdout().lock();
        let rule = "-".repeat(widths.iter().sum::<usize>() + 3 * 4);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Sluice gateway bench ({} cores, {:.1} s in all; figures are p50 with p90 of the runs)",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            total.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "load average before {}, after {}",
            self.load_before.as_deref().unwrap_or("n/a"),
            self.load_after.as_deref().unwrap_or("n/a")
        );
        let _ = writeln!(out, "{rule}");
        let _ = writeln!(out, "{}", line(headers));
        let _ = writeln!(out, "{rule}");
        let mut previous = "";
        for row in &self.rows {
            if !previous.is_empty() && previous != row.section {
                let _ = writeln!(out, "{rule}");
            }
            previous = &row.section;
            let _ = writeln!(
                out,
                "{}",
                line([
                    &row.section,
                    &row.metric,
                    &row.measured,
                    &row.target,
                    row.verdict,
                ])
            );
        }
        let _ = writeln!(out, "{rule}");
        let missed: Vec<&Row> = self
            .rows
            .iter()
            .filter(|row| row.verdict == "FAIL" || row.verdict == "ERROR")
            .collect();
        if missed.is_empty() {
            let _ = writeln!(out, "every target met");
        } else {
            for row in missed {
                let _ = writeln!(
                    out,
                    "{}: {} {}: {} (target {})",
                    row.verdict, row.section, row.metric, row.measured, row.target
                );
            }
        }
    }

    /// `target/bench/gateway.json`, in the target folder this bench was built in.
    pub(crate) fn write_json(&self) -> BenchResult<PathBuf> {
        let folder = target_dir().join("bench");
        std::fs::create_dir_all(&folder)?;
        let path = folder.join("gateway.json");
        let text = serde_json::to_string_pretty(&Value::Object(self.json.clone()))?;
        std::fs::write(&path, text + "\n")?;
        Ok(path)
    }
}

/// The target folder: the bench runs from `<target>/release/deps/`.
pub(crate) fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let target = exe.ancestors().nth(3)?.to_path_buf();
            target.join("CACHEDIR.TAG").exists().then_some(target)
        })
        .unwrap_or_else(|| sluice_test_support::workspace_root().join("target"))
}
