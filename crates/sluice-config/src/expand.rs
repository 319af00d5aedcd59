//! `${VAR}` and `${VAR:-default}` expansion, as Claude Code does in `.mcp.json`.
//!
//! `$` not followed by `{` is kept as it is, so ordinary dollar signs in arguments survive.

/// Why a text could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// `${NAME}` without a default, and `NAME` is not set: only the server using it is affected.
    Unset {
        /// The variable.
        name: String,
    },
    /// The text is not a valid template: the config itself is wrong.
    Malformed(String),
}

impl ExpandError {
    /// What is wrong, and how to fix it.
    pub(crate) fn message(&self) -> String {
        match self {
            ExpandError::Unset { name } => format!(
                "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
            ),
            ExpandError::Malformed(message) => message.clone(),
        }
    }
}

/// Expand variables in `text`. An unset variable without a default is an error naming it.
pub(crate) fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        result.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(ExpandError::Malformed(format!(
                "unclosed \"${{\" in \"{text}\": write ${{NAME}}"
            )));
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || character == '_');
        if !valid_name {
            return Err(ExpandError::Malformed(format!(
                "\"${{{inner}}}\" is not a valid variable reference: write ${{NAME}} or ${{NAME:-default}}"
            )));
        }
        match (lookup(name), default) {
            (Some(value), _) => result.push_str(&value),
            (None, Some(default)) => result.push_str(default),
            (None, None) => {
                return Err(ExpandError::Unset {
                    name: name.to_owned(),
                });
            }
        }
        rest = &after[end + 1..];
    }
    result.push_str(rest);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_defaults() {
        let lookup = |name: &str| (name == "A").then(|| "1".to_owned());
        assert_eq!(expand("x${A}y${B:-2}$z", &lookup).unwrap(), "x1y2$z");
        let unset = expand("${B}", &lookup).unwrap_err();
        assert_eq!(
            unset,
            ExpandError::Unset {
                name: "B".to_owned()
            }
        );
        assert!(unset.message().contains("B is not set"));
        let unclosed = expand("${A", &lookup).unwrap_err();
        assert!(matches!(&unclosed, ExpandError::Malformed(_)));
        assert!(unclosed.message().contains("unclosed"));
        assert!(
            expand("${A B}", &lookup)
                .unwrap_err()
                .message()
                .contains("not a valid")
        );
    }
}
