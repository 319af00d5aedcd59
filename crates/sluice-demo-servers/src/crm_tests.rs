//! Tests of `crm.rs`.

use super::*;

fn crm() -> Crm {
    Crm::new(&DemoOptions::default())
}

fn call(crm: &Crm, name: &str, arguments: Value) -> Outcome {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    crm.call(name, &arguments)
        .unwrap_or_else(|| Err(format!("no tool {name}")))
}

fn ok(crm: &Crm, name: &str, arguments: Value) -> Value {
    match call(crm, name, arguments) {
        Ok(value) => value,
        Err(error) => panic!("{name} failed: {error}"),
    }
}

fn err(crm: &Crm, name: &str, arguments: Value) -> String {
    match call(crm, name, arguments) {
        Ok(value) => panic!("{name} succeeded: {value}"),
        Err(error) => error,
    }
}

fn records(value: &Value) -> Vec<Value> {
    value["records"].as_array().cloned().unwrap_or_default()
}

#[test]
fn query_everything_and_limit() {
    let crm = crm();
    let all = ok(&crm, "query", json!({"objectType": "Lead"}));
    assert_eq!(all["totalSize"], 500);
    assert_eq!(records(&all).len(), 500);
    let limited = ok(&crm, "query", json!({"objectType": "Lead", "limit": 5}));
    assert_eq!(limited["totalSize"], 500);
    assert_eq!(records(&limited).len(), 5);
    assert_eq!(records(&limited)[..], records(&all)[..5]);
    let none = ok(&crm, "query", json!({"objectType": "lead", "limit": 0}));
    assert_eq!(none["totalSize"], 500);
    assert!(records(&none).is_empty());
}

#[test]
fn where_operators() {
    let crm = crm();
    let leads = data::leads(42, 500);
    let engaged = leads
        .iter()
        .filter(|lead| lead.engagement_score >= 90)
        .count();
    let result = ok(
        &crm,
        "query",
        json!({"objectType": "Lead", "where": {"EngagementScore": {"gte": 90}}}),
    );
    assert_eq!(result["totalSize"], engaged);
    assert!(
        records(&result)
            .iter()
            .all(|r| r["EngagementScore"].as_u64() >= Some(90))
    );

    let band = leads
        .iter()
        .filter(|lead| (40..=50).contains(&lead.engagement_score))
        .count();
    let result = ok(
        &crm,
        "query",
        json!({"objectType": "Lead", "where": {"EngagementScore": {"gte": 40, "lte": 50}}}),
    );
    assert_eq!(result["totalSize"], band);

    let working = leads
        .iter()
        .filter(|lead| lead.status == "Working - Contacted")
        .count();
    let plain = ok(
        &crm,
        "query",
        json!({"objectType": "Lead", "where": {"Status": "Working - Contacted"}}),
    );
    let explicit = ok(
        &crm,
        "query",
        json!({"objectType": "Lead", "where": {"Status": {"eq": "Working - Contacted"}}}),
    );
    assert_eq!(plain["totalSize"], working);
    assert_eq!(plain, explicit);

    let word = leads[0]
        .company
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_uppercase();
    let containing = leads
        .iter()
        .filter(|lead| lead.company.to_uppercase().contains(&word))
        .count();
    let result = ok(
        &crm,
        "query",
        json!({"objectType": "Lead", "where": {"Company": {"contains": word}}}),
    );
    assert_eq!(result["totalSize"], containing);
    assert!(containing >= 1);

    let by_number = ok(
        &crm,
        "query",
        json!({"objectType": "Lead", "where": {"EngagementScore": 50.0}}),
    );
    let expected = leads
        .iter()
        .filter(|lead| lead.engagement_score == 50)
        .count();
    assert_eq!(by_number["totalSize"], expected);
}

#[test]
fn fields_project_records() {
    let crm = crm();
    let result = ok(
        &crm,
        "query",
        json!({"objectType": "Lead", "fields": ["Name", "EngagementScore"], "limit": 3}),
    );
    for record in records(&result) {
        let keys: Vec<&str> = record
            .as_object()
            .map(|record| record.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["Id", "Name", "EngagementScore"]);
    }
}

#[test]
fn bad_queries_say_what_is_wrong() {
    let crm = crm();
    let error = err(&crm, "query", json!({"objectType": "Widget"}));
    assert!(error.contains("\"Lead\" and \"SalesMeeting\""), "{error}");
    let error = err(
        &crm,
        "query",
        json!({"objectType": "Lead", "fields": ["Score"]}),
    );
    assert!(error.contains("`EngagementScore`"), "{error}");
    let error = err(
        &crm,
        "query",
        json!({"objectType": "Lead", "where": {"EngagementScore": {"gt": 90}}}),
    );
    assert!(error.contains("gte, lte, eq and contains"), "{error}");
    let error = err(
        &crm,
        "query",
        json!({"objectType": "Lead", "where": {"Name": {"contains": 3}}}),
    );
    assert!(error.contains("needs a string"), "{error}");
    let error = err(&crm, "query", json!({"objectType": "Lead", "limit": -1}));
    assert!(error.contains("`limit`"), "{error}");
    let error = err(&crm, "query", json!({"objectType": "Lead", "top": 1}));
    assert!(error.contains("unknown argument `top`"), "{error}");
}

#[test]
fn update_sales_meeting_notes() {
    let crm = crm();
    let before = ok(&crm, "query", json!({"objectType": "SalesMeeting"}));
    assert_eq!(records(&before)[0]["Notes"], "");
    assert_eq!(records(&before)[0]["Id"], SALES_MEETING_ID);
    let updated = ok(
        &crm,
        "updateRecord",
        json!({"objectType": "SalesMeeting", "recordId": SALES_MEETING_ID, "data": {"Notes": "long text"}}),
    );
    assert_eq!(updated, json!({"id": SALES_MEETING_ID, "success": true}));
    let after = ok(&crm, "query", json!({"objectType": "SalesMeeting"}));
    assert_eq!(records(&after)[0]["Notes"], "long text");
    assert_eq!(records(&after)[0]["Subject"], SALES_MEETING_SUBJECT);

    let error = err(
        &crm,
        "updateRecord",
        json!({"objectType": "SalesMeeting", "recordId": "a0M000000000009", "data": {"Notes": ""}}),
    );
    assert!(error.contains("\"a0M000000000009\""), "{error}");
    let lead_id = data::leads(42, 1)[0].id.clone();
    let error = err(
        &crm,
        "updateRecord",
        json!({"objectType": "SalesMeeting", "recordId": lead_id, "data": {"Notes": ""}}),
    );
    assert!(error.contains("is a Lead record"), "{error}");
    let error = err(
        &crm,
        "updateRecord",
        json!({"objectType": "Lead", "recordId": lead_id, "data": {"EngagementScore": 101}}),
    );
    assert!(error.contains("0 to 100"), "{error}");
    let error = err(
        &crm,
        "updateRecord",
        json!({"objectType": "Lead", "recordId": lead_id, "data": {"Id": "x"}}),
    );
    assert!(error.contains("`Id`"), "{error}");
}

#[test]
fn create_leads_and_new_types() {
    let crm = crm();
    let created = ok(
        &crm,
        "createRecord",
        json!({"objectType": "Lead", "data": {"Name": "Ada Lovelace", "Email": "ada@example.com", "Company": "Analytical Engines"}}),
    );
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(created["success"], true);
    assert!(id.starts_with(LEAD_ID_PREFIX) && id.len() == 15, "{id}");
    let last = data::leads(42, 500)[499].id.clone();
    assert!(id > last, "{id} after {last}");
    let found = ok(
        &crm,
        "query",
        json!({"objectType": "Lead", "where": {"Email": "ada@example.com"}}),
    );
    assert_eq!(found["totalSize"], 1);
    let record = &records(&found)[0];
    assert_eq!(record["Id"], id.as_str());
    assert_eq!(record["Status"], LEAD_STATUSES[0]);
    assert_eq!(record["EngagementScore"], Value::Null);
    let all = ok(&crm, "query", json!({"objectType": "Lead", "limit": 0}));
    assert_eq!(all["totalSize"], 501);

    let error = err(
        &crm,
        "createRecord",
        json!({"objectType": "Lead", "data": {"Email": "x@y.z"}}),
    );
    assert!(error.contains("needs `Name`"), "{error}");
    let error = err(
        &crm,
        "createRecord",
        json!({"objectType": "Lead", "data": {"Name": "X", "FirstName": "Y"}}),
    );
    assert!(error.contains("no field `FirstName`"), "{error}");

    let task = ok(
        &crm,
        "createRecord",
        json!({"objectType": "Task", "data": {"Subject": "Call back", "Priority": 2}}),
    );
    assert!(
        task["id"].as_str().is_some_and(|id| id.starts_with("00T")),
        "{task}"
    );
    let custom = ok(
        &crm,
        "createRecord",
        json!({"objectType": "Widget__c", "data": {"Size": 3}}),
    );
    assert!(
        custom["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("a0A")),
        "{custom}"
    );
    let tasks = ok(
        &crm,
        "query",
        json!({"objectType": "Task", "where": {"Priority": {"lte": 2}}}),
    );
    assert_eq!(tasks["totalSize"], 1);
    assert_eq!(records(&tasks)[0]["Subject"], "Call back");
    let error = err(
        &crm,
        "createRecord",
        json!({"objectType": "no spaces", "data": {}}),
    );
    assert!(error.contains("not a valid object type"), "{error}");
}
