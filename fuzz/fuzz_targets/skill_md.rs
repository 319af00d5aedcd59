//! Arbitrary text through the `SKILL.md` front matter reader (a YAML parser behind a strict
//! schema), and descriptions through the writer. Must never panic; whatever the writer writes for
//! a valid description reads back as that description.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sluice_skills::{
    FrontMatter, SkillLanguage, parse_skill_md, render_skill_md, validate_description,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_skill_md(Path::new("SKILL.md"), text);
    let Ok(description) = validate_description(text) else { return };
    let front_matter = FrontMatter {
        name: "fuzz".to_owned(),
        description: description.to_owned(),
        version: 1,
        saved_by: Some(description.chars().take(128).collect()),
    };
    for language in SkillLanguage::ALL {
        let written = render_skill_md(&front_matter, &[], language);
        let read = parse_skill_md(Path::new("SKILL.md"), &written);
        assert_eq!(read.ok().as_ref(), Some(&front_matter), "{written}");
    }
});
