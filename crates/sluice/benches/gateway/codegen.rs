//! 5. Code generation.

use std::time::Instant;

use serde_json::{Value, json};
use sluice_catalog::{Catalog, ServerTools};

use crate::catalogs::{combined_catalogs, per_server_catalogs};
use crate::report::{BenchResult, Report, Stats, ms, num};

/// Runs of catalog build and tree generation per catalog set.
pub(crate) const CODEGEN_RUNS: usize = 10;

pub(crate) struct CodegenRuns {
    pub(crate) definitions: usize,
    pub(crate) servers: usize,
    pub(crate) tools: usize,
    pub(crate) files: usize,
    pub(crate) catalog: Vec<f64>,
    pub(crate) tree: Vec<f64>,
    pub(crate) total: Vec<f64>,
}

impl CodegenRuns {
    pub(crate) fn new(servers: &[ServerTools]) -> Self {
        CodegenRuns {
            definitions: servers.iter().map(|s| s.tools.len()).sum(),
            servers: servers.len(),
            tools: 0,
            files: 0,
            catalog: Vec::new(),
            tree: Vec::new(),
            total: Vec::new(),
        }
    }

    pub(crate) fn run(&mut self, servers: &[ServerTools]) {
        // The catalog consumes its input; the copy is made outside the clock.
        let input = servers.to_vec();
        let started = Instant::now();
        let catalog = Catalog::build(input);
        let built = started.elapsed();
        let tree = sluice_codegen::generate_tree(catalog.clone().into());
        let total = started.elapsed();
        self.tools = catalog.len();
        self.files = tree.len();
        self.catalog.push(ms(built));
        self.tree.push(ms(total - built));
        self.total.push(ms(total));
        drop(tree);
        drop(catalog);
    }

    pub(crate) fn report(&self, report: &mut Report, label: &str) -> Value {
        let total = Stats::of(&self.total);
        let catalog = Stats::of(&self.catalog);
        let tree = Stats::of(&self.tree);
        report.row(
            "codegen",
            format!(
                "{label}: {} tools of {} servers -> {} files",
                self.tools, self.servers, self.files
            ),
            format!(
                "{} ({} us/tool)",
                total.show("ms"),
                num(total.p50 * 1e3 / self.tools.max(1) as f64)
            ),
        );
        report.row(
            "codegen",
            "  Catalog::build / generate_tree",
            format!("{} / {}", catalog.show("ms"), tree.show("ms")),
        );
        json!({
            "definitions": self.definitions,
            "servers": self.servers,
            "tools": self.tools,
            "files": self.files,
            "total_ms": total.to_json("ms", &self.total),
            "catalog_build_ms": catalog.to_json("ms", &self.catalog),
            "generate_tree_ms": tree.to_json("ms", &self.tree),
        })
    }
}

pub(crate) fn codegen(report: &mut Report) -> BenchResult<()> {
    let per_server = per_server_catalogs()?;
    let combined = combined_catalogs()?;
    let mut per_server_runs = CodegenRuns::new(&per_server);
    let mut combined_runs = CodegenRuns::new(&combined);
    // One warm-up each, then interleaved runs.
    per_server_runs.run(&per_server);
    combined_runs.run(&combined);
    per_server_runs = CodegenRuns::new(&per_server);
    combined_runs = CodegenRuns::new(&combined);
    for _ in 0..CODEGEN_RUNS {
        per_server_runs.run(&per_server);
        combined_runs.run(&combined);
    }
    let per_server_json = per_server_runs.report(report, "every per-server file");
    let combined_json = combined_runs.report(report, "combined + twilio-all-services");
    report.section_json(
        "codegen",
        json!({
            "runs": CODEGEN_RUNS,
            "per_server_files": per_server_json,
            "combined_plus_twilio": combined_json,
        }),
    );
    Ok(())
}
