//! Measuring search against labelled queries: recall@1/5/10 and MRR, by style and split.
//!
//! A labelled query names, for each thing it needs, every tool that would answer it (a
//! *group* of alternatives). A group is found at rank `r` when any of its tools is at rank
//! `r` or better; a query's recall@k is the share of its groups found within `k`; its
//! reciprocal rank is `1 / rank` of the best-ranked labelled tool (0 when none is in the
//! ranking).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One labelled query (the format of `data/search-eval/queries.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabelledQuery {
    /// Stable id.
    pub id: String,
    /// How it is phrased: `paraphrase`, `concept`, `ambiguous`, `two_tools`, `exact`, ...
    pub style: String,
    /// What the agent typed.
    pub query: String,
    /// Required groups, each listing every `server/name` that answers that part.
    pub needs: Vec<Vec<String>>,
    /// `tune` (may be looked at while tuning) or `heldout` (reported apart, never tuned on).
    pub split: String,
}

/// The ranks that recall is reported at.
pub const RECALL_AT: [usize; 3] = [1, 5, 10];

/// Summed scores of a set of queries.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Metrics {
    /// Queries counted.
    pub queries: usize,
    /// Mean recall at each of [`RECALL_AT`].
    pub recall: [f64; 3],
    /// Mean reciprocal rank.
    pub mrr: f64,
}

impl Metrics {
    fn add(&mut self, recall: [f64; 3], reciprocal_rank: f64) {
        self.queries += 1;
        for (total, value) in self.recall.iter_mut().zip(recall) {
            *total += value;
        }
        self.mrr += reciprocal_rank;
    }

    fn mean(mut self) -> Metrics {
        let count = self.queries.max(1) as f64;
        for value in &mut self.recall {
            *value /= count;
        }
        self.mrr /= count;
        self
    }
}

/// One query's recall at [`RECALL_AT`] and reciprocal rank, given the ranked `server/name`s.
pub fn score_query(query: &LabelledQuery, ranked: &[String]) -> ([f64; 3], f64) {
    let rank_of = |tool: &String| ranked.iter().position(|item| item == tool).map(|at| at + 1);
    let group_ranks: Vec<Option<usize>> = query
        .needs
        .iter()
        .map(|group| group.iter().filter_map(rank_of).min())
        .collect();
    let groups = group_ranks.len().max(1) as f64;
    let recall = RECALL_AT.map(|k| {
        group_ranks
            .iter()
            .filter(|rank| rank.is_some_and(|rank| rank <= k))
            .count() as f64
            / groups
    });
    let best = group_ranks.iter().flatten().min();
    (recall, best.map_or(0.0, |&rank| 1.0 / rank as f64))
}

/// Metrics by split, then by style (`all` holds every style).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// split → style → metrics.
    pub by_split: BTreeMap<String, BTreeMap<String, Metrics>>,
}

impl Report {
    /// Score every query with `rank` (which returns `server/name`s, best first).
    pub fn measure(queries: &[LabelledQuery], mut rank: impl FnMut(&str) -> Vec<String>) -> Report {
        let mut sums: BTreeMap<String, BTreeMap<String, Metrics>> = BTreeMap::new();
        for query in queries {
            let ranked = rank(&query.query);
            let (recall, reciprocal_rank) = score_query(query, &ranked);
            for split in [query.split.as_str(), "all"] {
                let styles = sums.entry(split.to_owned()).or_default();
                for style in [query.style.as_str(), "all"] {
                    styles
                        .entry(style.to_owned())
                        .or_default()
                        .add(recall, reciprocal_rank);
                }
            }
        }
        Report {
            by_split: sums
                .into_iter()
                .map(|(split, styles)| {
                    let styles = styles
                        .into_iter()
                        .map(|(style, metrics)| (style, metrics.mean()))
                        .collect();
                    (split, styles)
                })
                .collect(),
        }
    }

    /// The metrics of one split and style.
    pub fn get(&self, split: &str, style: &str) -> Option<&Metrics> {
        self.by_split.get(split)?.get(style)
    }

    /// A plain table: one row per split and style.
    pub fn to_table(&self) -> String {
        let mut table = format!(
            "{:<8} {:<11} {:>7} {:>7} {:>7} {:>7} {:>7}\n",
            "split", "style", "queries", "R@1", "R@5", "R@10", "MRR"
        );
        for (split, styles) in &self.by_split {
            for (style, metrics) in styles {
                table.push_str(&format!(
                    "{split:<8} {style:<11} {:>7} {:>7.3} {:>7.3} {:>7.3} {:>7.3}\n",
                    metrics.queries,
                    metrics.recall[0],
                    metrics.recall[1],
                    metrics.recall[2],
                    metrics.mrr
                ));
            }
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(needs: &[&[&str]]) -> LabelledQuery {
        LabelledQuery {
            id: "q".into(),
            style: "two_tools".into(),
            query: "text".into(),
            needs: needs
                .iter()
                .map(|group| group.iter().map(|tool| (*tool).to_owned()).collect())
                .collect(),
            split: "tune".into(),
        }
    }

    fn ranked(tools: &[&str]) -> Vec<String> {
        tools.iter().map(|tool| (*tool).to_owned()).collect()
    }

    #[test]
    fn groups_count_when_any_alternative_is_found() {
        let labelled = query(&[&["s/a", "t/a"], &["s/b"]]);
        let (recall, rr) =
            score_query(&labelled, &ranked(&["x", "t/a", "y", "z", "w", "v", "s/b"]));
        assert_eq!(recall, [0.0, 0.5, 1.0]);
        assert_eq!(rr, 0.5);
        let (recall, rr) = score_query(&labelled, &ranked(&["x"]));
        assert_eq!(recall, [0.0, 0.0, 0.0]);
        assert_eq!(rr, 0.0);
    }

    #[test]
    fn reports_by_split_and_style() {
        let queries = vec![query(&[&["s/a"]]), {
            let mut heldout = query(&[&["s/b"]]);
            heldout.split = "heldout".into();
            heldout.style = "paraphrase".into();
            heldout
        }];
        let report = Report::measure(&queries, |_| ranked(&["s/a"]));
        assert_eq!(report.get("all", "all").unwrap().queries, 2);
        assert_eq!(report.get("tune", "two_tools").unwrap().mrr, 1.0);
        assert_eq!(
            report.get("heldout", "paraphrase").unwrap().recall,
            [0.0; 3]
        );
        assert!(report.to_table().contains("heldout  paraphrase"));
    }
}
