//! The lexical half: BM25F over each document's fields, with postings built once per segment.
//!
//! Each field's term counts are multiplied by the field's weight and summed into one weighted
//! frequency per term and document, normalized by the document's weighted length (BM25F in its
//! simple form). Document frequencies and the average length are the index's, over every
//! segment, so a server's scores do not depend on which other servers changed last.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use crate::document::Document;
use crate::text::for_each_term;

/// How much a term counts in each field.
#[derive(Debug, Clone, Copy)]
pub struct FieldWeights {
    /// The tool's name (and identifier).
    pub name: f32,
    /// The title.
    pub title: f32,
    /// The server's name.
    pub server: f32,
    /// The description.
    pub description: f32,
    /// Parameter names.
    pub parameter_names: f32,
    /// Parameter descriptions.
    pub parameter_descriptions: f32,
    /// Output field names.
    pub outputs: f32,
    /// Annotation words.
    pub hints: f32,
}

impl Default for FieldWeights {
    fn default() -> Self {
        FieldWeights {
            name: 3.0,
            title: 2.0,
            server: 1.5,
            description: 1.0,
            parameter_names: 0.6,
            parameter_descriptions: 0.3,
            outputs: 0.3,
            hints: 0.5,
        }
    }
}

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// A query word also matches the longer terms it starts (`calc` → `calcul`), at this share.
const PREFIX_SHARE: f32 = 0.5;
/// A term a typed word also means (from the thesaurus) counts at this share.
const RELATED_SHARE: f32 = 0.5;
/// Prefix expansion needs a word at least this long, and uses at most this many terms.
const PREFIX_MIN_CHARS: usize = 3;
const PREFIX_MAX_TERMS: usize = 32;

/// The postings of one segment: every term's list in one vector, so a segment of a few
/// thousand terms makes one allocation for its lists rather than one per term.
#[derive(Debug, Default)]
pub(crate) struct Postings {
    /// Term → its list's range in `lists`. The term's text is shared with the index's
    /// statistics.
    by_term: HashMap<Arc<str>, (u32, u32)>,
    /// (document within the segment, weighted frequency), term after term.
    lists: Vec<(u32, f32)>,
    /// Weighted length of each document.
    pub lengths: Vec<f32>,
}

impl Postings {
    pub fn build(documents: &[Document], weights: &FieldWeights) -> Postings {
        // Terms are numbered as they first appear, so a document's terms are gathered in a
        // plain vector and each term's text is allocated once per segment.
        let mut numbers: HashMap<String, u32> = HashMap::default();
        let mut lists: Vec<Vec<(u32, f32)>> = Vec::new();
        let mut lengths = Vec::with_capacity(documents.len());
        let mut occurrences: Vec<(u32, f32)> = Vec::new();
        for (index, document) in documents.iter().enumerate() {
            occurrences.clear();
            let mut length = 0.0;
            let mut add = |text: &str, weight: f32| {
                for_each_term(text, |term| {
                    let number = match numbers.get(term) {
                        Some(&number) => number,
                        None => {
                            let number = lists.len() as u32;
                            numbers.insert(term.to_owned(), number);
                            lists.push(Vec::new());
                            number
                        }
                    };
                    occurrences.push((number, weight));
                    length += weight;
                });
            };
            add(&document.name, weights.name);
            if let Some(server) = document.server() {
                add(server, weights.server);
            }
            if let Some(title) = &document.title {
                add(title, weights.title);
            }
            add(&document.description, weights.description);
            for (name, description) in &document.parameters {
                add(name, weights.parameter_names);
                add(description, weights.parameter_descriptions);
            }
            for output in &document.outputs {
                add(output, weights.outputs);
            }
            for hint in &document.hints {
                add(hint, weights.hints);
            }
            // Stable: each term's weights are summed in the order they occur.
            occurrences.sort_by_key(|&(number, _)| number);
            for run in occurrences.chunk_by(|left, right| left.0 == right.0) {
                let frequency = run.iter().fold(0.0, |sum, &(_, weight)| sum + weight);
                lists[run[0].0 as usize].push((index as u32, frequency));
            }
            lengths.push(length);
        }
        let mut flat = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        let mut by_term = HashMap::with_capacity_and_hasher(numbers.len(), Default::default());
        for (term, number) in numbers {
            let list = &lists[number as usize];
            let start = flat.len() as u32;
            flat.extend_from_slice(list);
            by_term.insert(Arc::from(term), (start, list.len() as u32));
        }
        Postings {
            by_term,
            lists: flat,
            lengths,
        }
    }

    /// The documents containing `term`, with its weighted frequency in each.
    pub fn list(&self, term: &str) -> Option<&[(u32, f32)]> {
        let &(start, length) = self.by_term.get(term)?;
        self.lists.get(start as usize..(start + length) as usize)
    }

    /// Every term, with how many documents contain it.
    pub fn terms(&self) -> impl Iterator<Item = (&Arc<str>, u32)> {
        self.by_term
            .iter()
            .map(|(term, &(_, length))| (term, length))
    }
}

/// Corpus-wide statistics: document frequency of every term, the sorted vocabulary (for prefix
/// expansion), document count and average length.
/// The sorted vocabulary of `document_frequency`, from `previous` and the terms whose presence
/// may have changed (`touched`): patched in place when they are few, sorted afresh otherwise.
fn update_vocabulary(
    previous: &[Arc<str>],
    document_frequency: &HashMap<Arc<str>, u32>,
    mut touched: Vec<Arc<str>>,
) -> Vec<Arc<str>> {
    if touched.len() > previous.len() / 16 {
        let mut vocabulary: Vec<Arc<str>> = document_frequency.keys().cloned().collect();
        vocabulary.sort_unstable();
        return vocabulary;
    }
    let mut vocabulary = previous.to_vec();
    touched.sort_unstable();
    touched.dedup();
    for term in touched {
        let present = document_frequency.contains_key(&term);
        match (vocabulary.binary_search(&term), present) {
            (Ok(index), false) => {
                vocabulary.remove(index);
            }
            (Err(index), true) => vocabulary.insert(index, term),
            _ => {}
        }
    }
    vocabulary
}

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Statistics {
    pub document_frequency: HashMap<Arc<str>, u32>,
    pub vocabulary: Vec<Arc<str>>,
    pub documents: u32,
    pub average_length: f32,
}

impl Statistics {
    /// The statistics of these segments' postings.
    pub fn build<'a>(segments: impl Iterator<Item = &'a Postings> + Clone) -> Statistics {
        Statistics::update(
            &Statistics::default(),
            std::iter::empty(),
            segments.clone(),
            segments,
        )
    }

    /// The statistics of `segments`, from `previous` (those of a set of segments that differs
    /// from `segments` by `removed` and `added`): term counts move by what the changed segments
    /// hold, so a rebuild after one server changed costs in proportion to that server's terms,
    /// not to the whole vocabulary's. The same result as [`Statistics::build`] of `segments`.
    pub fn update<'a>(
        previous: &Statistics,
        removed: impl Iterator<Item = &'a Postings>,
        added: impl Iterator<Item = &'a Postings>,
        segments: impl Iterator<Item = &'a Postings>,
    ) -> Statistics {
        let mut document_frequency = previous.document_frequency.clone();
        let mut touched: Vec<Arc<str>> = Vec::new();
        for postings in removed {
            for (term, containing) in postings.terms() {
                if let Some(count) = document_frequency.get_mut(term) {
                    *count = count.saturating_sub(containing);
                    if *count == 0 {
                        document_frequency.remove(term);
                        touched.push(Arc::clone(term));
                    }
                }
            }
        }
        for postings in added {
            for (term, containing) in postings.terms() {
                match document_frequency.entry(Arc::clone(term)) {
                    Entry::Occupied(mut entry) => *entry.get_mut() += containing,
                    Entry::Vacant(entry) => {
                        entry.insert(containing);
                        touched.push(Arc::clone(term));
                    }
                }
            }
        }
        let vocabulary = update_vocabulary(&previous.vocabulary, &document_frequency, touched);
        let mut documents = 0;
        let mut total_length = 0.0;
        for postings in segments {
            documents += postings.lengths.len() as u32;
            total_length += postings.lengths.iter().sum::<f32>();
        }
        Statistics {
            document_frequency,
            vocabulary,
            documents,
            average_length: total_length / (documents.max(1) as f32),
        }
    }

    fn inverse_frequency(&self, term: &str) -> f32 {
        let containing = self.document_frequency.get(term).copied().unwrap_or(0) as f32;
        let documents = self.documents as f32;
        ((documents - containing + 0.5) / (containing + 0.5) + 1.0).ln()
    }

    /// The query's terms with what each counts for: itself at full weight, and the longer terms
    /// it is a prefix of at [`PREFIX_SHARE`]; `related` terms (what the query's words also
    /// mean) at [`RELATED_SHARE`], unless typed.
    pub fn expand(&self, query_terms: &[String], related: &[String]) -> Vec<(String, f32)> {
        let mut expanded: HashMap<String, f32> = HashMap::default();
        for term in related {
            if !query_terms.contains(term) {
                let weight = self.inverse_frequency(term) * RELATED_SHARE;
                let entry = expanded.entry(term.clone()).or_insert(0.0);
                *entry = entry.max(weight);
            }
        }
        for term in query_terms {
            let weight = self.inverse_frequency(term);
            *expanded.entry(term.clone()).or_insert(0.0) += weight;
            if term.chars().count() < PREFIX_MIN_CHARS {
                continue;
            }
            let start = self.vocabulary.partition_point(|word| **word <= **term);
            for word in self.vocabulary[start..]
                .iter()
                .take_while(|word| word.starts_with(term.as_str()))
                .take(PREFIX_MAX_TERMS)
            {
                let weight = self.inverse_frequency(word) * PREFIX_SHARE;
                let entry = expanded.entry(word.to_string()).or_insert(0.0);
                *entry = entry.max(weight);
            }
        }
        expanded.into_iter().collect()
    }

    /// Add each of the segment's documents' BM25F score for the expanded query to `scores`
    /// (the segment's slice of the index-wide scores, indexed by document within the segment).
    pub fn score_into(&self, postings: &Postings, expanded: &[(String, f32)], scores: &mut [f32]) {
        let average = self.average_length.max(f32::EPSILON);
        for (term, inverse_frequency) in expanded {
            let Some(list) = postings.list(term) else {
                continue;
            };
            for &(document, frequency) in list {
                let length = postings.lengths[document as usize];
                let normalization = K1 * (1.0 - B + B * length / average);
                scores[document as usize] +=
                    inverse_frequency * frequency * (K1 + 1.0) / (frequency + normalization);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vocabulary_patched_for_a_few_terms_is_the_sorted_vocabulary() {
        let terms: Vec<Arc<str>> = (0..100).map(|n| Arc::from(format!("t{n:03}"))).collect();
        let mut frequency: HashMap<Arc<str>, u32> =
            terms.iter().map(|term| (Arc::clone(term), 1)).collect();
        let mut previous = terms.clone();
        previous.sort_unstable();
        // One term leaves, one comes, one leaves and comes back.
        frequency.remove("t050");
        frequency.insert(Arc::from("t050x"), 1);
        let touched = vec![Arc::from("t050"), Arc::from("t050x"), Arc::from("t010")];
        let patched = update_vocabulary(&previous, &frequency, touched);
        let mut expected: Vec<Arc<str>> = frequency.keys().cloned().collect();
        expected.sort_unstable();
        assert_eq!(patched, expected);
    }
}
