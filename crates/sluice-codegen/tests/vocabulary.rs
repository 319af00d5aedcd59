//! The runtime agents read names the same `ToolError` kinds the gateway sends: its
//! `ToolErrorKind` union lists exactly the protocol's known kinds, in the same order.

use sluice_worker_protocol::ToolErrorKind;

#[test]
fn runtime_tool_error_kinds_match_the_protocol() {
    let runtime = sluice_codegen::RUNTIME_TS;
    let start = runtime
        .find("export type ToolErrorKind =")
        .expect("runtime.ts declares ToolErrorKind");
    let declaration = &runtime[start..];
    let declaration = &declaration[..declaration.find(';').expect("the union ends")];
    let listed: Vec<&str> = declaration.split('"').skip(1).step_by(2).collect();
    let known: Vec<&str> = ToolErrorKind::KNOWN
        .iter()
        .map(ToolErrorKind::as_str)
        .collect();
    assert_eq!(listed, known);
}
