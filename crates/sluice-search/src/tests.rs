use super::*;
use serde_json::json;
use sluice_catalog::{Catalog, ServerTools};

fn catalog() -> Catalog {
    Catalog::build(vec![
        ServerTools::from_values(
            "filesystem",
            vec![
                json!({"name": "read_text_file", "description": "Read the contents of a file as text."}),
                json!({"name": "list_directory", "description": "List files in a directory.",
                       "inputSchema": {"type": "object", "properties": {"path": {"type": "string", "description": "Folder to list"}}}}),
                json!({"name": "write_file", "description": "Create or overwrite a file."}),
            ],
        ),
        ServerTools::from_values(
            "everything",
            vec![
                json!({"name": "get-sum", "description": "Adds two numbers."}),
                json!({"name": "echo", "description": "Echoes the message back."}),
            ],
        ),
    ])
}

fn groups(catalog: &Catalog) -> BTreeMap<String, Vec<Document>> {
    let mut groups: BTreeMap<String, Vec<Document>> = BTreeMap::new();
    for tool in catalog.tools() {
        groups
            .entry(tool.server.clone())
            .or_default()
            .push(Document::from_tool(tool));
    }
    groups
}

fn names(ranking: &Ranking<'_>) -> Vec<String> {
    ranking
        .hits
        .iter()
        .map(|hit| format!("{}/{}", hit.item.group(), hit.item.name()))
        .collect()
}

fn query(text: &str) -> Query {
    Query {
        text: text.into(),
        group: None,
        limit: 10,
        ..Query::default()
    }
}

#[test]
fn ranks_name_matches_first_and_leaves_unrelated_tools_out() {
    let index = SearchIndex::build(groups(&catalog()), None, None);
    let ranking = index.search(&query("read file"), None);
    assert_eq!(names(&ranking)[0], "filesystem/read_text_file");
    assert!(!names(&ranking).contains(&"everything/echo".to_owned()));
    assert!(!ranking.dense);
}

#[test]
fn stems_prefixes_parameters_filter_and_empty_query() {
    let index = SearchIndex::build(groups(&catalog()), None, None);
    assert_eq!(
        names(&index.search(&query("directories"), None))[0],
        "filesystem/list_directory"
    );
    assert_eq!(
        names(&index.search(&query("folder"), None)),
        ["filesystem/list_directory"]
    );
    assert_eq!(
        names(&index.search(&query("overwr"), None)),
        ["filesystem/write_file"]
    );
    let listed = index.search(
        &Query {
            text: " ".into(),
            group: Some("everything".into()),
            limit: 1,
            ..Query::default()
        },
        None,
    );
    assert_eq!(names(&listed), ["everything/echo"]);
    let filtered = index.search(
        &Query {
            text: "sum".into(),
            group: Some("filesystem".into()),
            limit: 10,
            ..Query::default()
        },
        None,
    );
    assert!(filtered.hits.is_empty());
}

#[test]
fn an_exact_name_comes_first_in_any_spelling() {
    let index = SearchIndex::build(groups(&catalog()), None, None);
    for spelling in [
        "getSum",
        "get-sum",
        "everything.getSum",
        "everything/get-sum",
    ] {
        let ranking = index.search(&query(spelling), None);
        assert_eq!(names(&ranking)[0], "everything/get-sum", "{spelling}");
        assert!(ranking.hits[0].exact);
        assert!(!ranking.weak);
    }
}

#[test]
fn a_query_that_matches_nothing_is_weak_and_names_no_hits() {
    let index = SearchIndex::build(groups(&catalog()), None, None);
    let ranking = index.search(&query("zebra migration patterns"), None);
    assert!(ranking.hits.is_empty());
    assert!(ranking.weak);
}

#[test]
fn a_two_part_query_surfaces_both_tools() {
    let index = SearchIndex::build(groups(&catalog()), None, None);
    let ranking = index.search(
        &query("read the text file and then echo the message back"),
        None,
    );
    let top: Vec<String> = names(&ranking).into_iter().take(2).collect();
    assert!(
        top.contains(&"filesystem/read_text_file".to_owned()),
        "{top:?}"
    );
    assert!(top.contains(&"everything/echo".to_owned()), "{top:?}");
}

#[test]
fn unchanged_segments_are_reused_and_changed_ones_rebuilt() {
    let first = SearchIndex::build(groups(&catalog()), None, None);
    let mut changed = groups(&catalog());
    let everything = changed.get_mut("everything").unwrap();
    let sum = everything
        .iter_mut()
        .find(|document| document.name == "get-sum")
        .unwrap();
    sum.description = "Multiplies two numbers.".into();
    let second = SearchIndex::build(changed, Some(&first), None);
    assert!(
        Arc::ptr_eq(&first.segments[1], &second.segments[1]),
        "filesystem reused"
    );
    assert!(
        !Arc::ptr_eq(&first.segments[0], &second.segments[0]),
        "everything rebuilt"
    );
    assert_eq!(
        names(&second.search(&query("multiply"), None)),
        ["everything/get-sum"]
    );
}

#[test]
fn vectors_come_from_the_cache_only_when_every_one_is_there() {
    let mut cache = VectorCache::new("test-model", 2);
    let index = SearchIndex::build(groups(&catalog()), None, Some(&cache));
    let missing = index.missing_vectors(&cache);
    assert_eq!(missing.len(), 5);
    for (key, _) in &missing[..4] {
        cache.insert(*key, vec![1.0, 0.0]);
    }
    assert!(!SearchIndex::build(groups(&catalog()), Some(&index), Some(&cache)).has_vectors());
    cache.insert(missing[4].0, vec![0.0, 1.0]);
    let complete = SearchIndex::build(groups(&catalog()), Some(&index), Some(&cache));
    assert!(complete.has_vectors());
    assert!(complete.missing_vectors(&cache).is_empty());
    assert_eq!(complete.vector_keys().len(), 5);
}

#[test]
fn intents_split_only_at_sequence_words() {
    assert_eq!(
        intents("list files in a folder"),
        ["list files in a folder"]
    );
    assert_eq!(
        intents("find the open PR and then post a comment"),
        [
            "find the open PR and then post a comment",
            "find the open pr",
            "post a comment"
        ]
    );
}

#[test]
fn dot_handles_any_length() {
    let left: Vec<f32> = (0..19).map(|value| value as f32).collect();
    let expected: f32 = left.iter().map(|value| value * value).sum();
    assert_eq!(dot(&left, &left), expected);
}

#[test]
fn skills_rank_with_the_tools_and_list_after_them() {
    let mut groups = groups(&catalog());
    groups.insert(
        SKILLS_GROUP.to_owned(),
        vec![Document::skill(
            "save-sheet-as-csv",
            "Save a sheet's rows to a CSV file",
        )],
    );
    let index = SearchIndex::build(groups, None, None);
    let ranking = index.search(&query("save sheet rows as csv"), None);
    assert_eq!(
        ranking.hits[0].item.key,
        ItemKey::Skill {
            name: "save-sheet-as-csv".into()
        }
    );
    let listed = index.search(
        &Query {
            text: String::new(),
            limit: 10,
            ..Query::default()
        },
        None,
    );
    assert_eq!(listed.hits.len(), 6);
    assert_eq!(
        listed.hits[5].item.group(),
        SKILLS_GROUP,
        "skills come after every tool"
    );
}

#[test]
fn what_the_limit_leaves_out_is_counted() {
    let index = SearchIndex::build(groups(&catalog()), None, None);
    let listed = index.search(
        &Query {
            text: String::new(),
            limit: 2,
            ..Query::default()
        },
        None,
    );
    assert_eq!((listed.hits.len(), listed.more), (2, 3));
    let all = index.search(&query("file"), None);
    assert_eq!(all.more, 0, "{:?}", names(&all));
    let cut = index.search(
        &Query {
            limit: 1,
            ..query("file")
        },
        None,
    );
    assert_eq!(cut.hits.len(), 1);
    assert_eq!(cut.more, all.hits.len() - 1, "{:?}", names(&all));
}

#[test]
fn an_unchanged_group_is_taken_from_the_previous_index_without_its_documents() {
    let catalog = catalog();
    let first = SearchIndex::build(groups(&catalog), None, None);
    assert!(first.can_reuse("filesystem", false));
    assert!(!first.can_reuse("filesystem", true), "no vectors to reuse");
    assert!(!first.can_reuse("nothing", false));
    let mut rebuilt: BTreeMap<String, Group> = BTreeMap::new();
    rebuilt.insert("filesystem".into(), Group::Unchanged);
    rebuilt.insert(
        "everything".into(),
        Group::Documents(vec![Document::from_tool(
            catalog.tool("everything", "echo").expect("echo"),
        )]),
    );
    let second = SearchIndex::build_groups(rebuilt, Some(&first), None);
    assert_eq!(second.len(), 4);
    assert_eq!(
        names(&second.search(&query("read file"), None))[0],
        "filesystem/read_text_file"
    );
    // Without a previous index, an unchanged group has nothing to give.
    let mut alone: BTreeMap<String, Group> = BTreeMap::new();
    alone.insert("filesystem".into(), Group::Unchanged);
    assert!(SearchIndex::build_groups(alone, None, None).is_empty());
}

#[test]
fn statistics_updated_from_the_previous_index_equal_those_built_afresh() {
    let first = SearchIndex::build(groups(&catalog()), None, None);
    // "everything" changes (a term goes, a term comes), "filesystem" stays, "time" is new.
    let mut changed = groups(&catalog());
    changed.insert(
        "everything".to_owned(),
        vec![Document::from_tool(&sluice_catalog::CatalogTool {
            description: Some("Multiplies two numbers.".to_owned()),
            ..catalog().tool("everything", "get-sum").unwrap().clone()
        })],
    );
    let time = Catalog::build(vec![ServerTools::from_values(
        "time",
        vec![json!({"name": "get_time", "description": "Current time in a zone."})],
    )]);
    changed.insert("time".to_owned(), groups(&time).remove("time").unwrap());
    let updated = SearchIndex::build(changed.clone(), Some(&first), None);
    let afresh = SearchIndex::build(changed, None, None);
    assert_eq!(updated.statistics, afresh.statistics);
    assert!(
        updated
            .statistics
            .document_frequency
            .contains_key("multipli")
    );
    assert!(!updated.statistics.document_frequency.contains_key("echo"));
    // And back: a group that leaves takes its terms with it.
    let back = SearchIndex::build(groups(&catalog()), Some(&updated), None);
    assert_eq!(back.statistics, first.statistics);
    assert_eq!(
        names(&back.search(&query("echo"), None)),
        names(&first.search(&query("echo"), None))
    );
}
