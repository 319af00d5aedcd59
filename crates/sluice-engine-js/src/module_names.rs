//! The names modules have inside QuickJS, and how they are shown: a leaf that the loader and the
//! position mapping both read.

/// The display name of a module in stack traces: a skill is `skills/<name>/index.ts`, without
/// the content hash of its module name.
pub(crate) fn display_name(module: &str) -> std::borrow::Cow<'_, str> {
    match skill_of_module(module) {
        Some(name) => format!("skills/{name}/index.ts").into(),
        None => module.into(),
    }
}

/// A skill's module name: `skills/<name>/index@<hash>.ts`, the hash of its source making a
/// changed skill a new module.
pub(crate) fn skill_module_name(name: &str, hash: u64) -> String {
    format!("skills/{name}/index@{hash:016x}.ts")
}

/// The skill name in a skill's module name (`skills/<name>/index@<hash>.ts`).
pub(crate) fn skill_of_module(module: &str) -> Option<&str> {
    let rest = module.strip_prefix("skills/")?;
    let (name, tail) = rest.split_once("/index@")?;
    let hash = tail.strip_suffix(".ts")?;
    (!name.is_empty() && !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(name)
}
