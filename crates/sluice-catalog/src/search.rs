//! How much a search hit shows. Ranking itself lives in `sluice-search`.

use serde::{Deserialize, Serialize};

/// How much to say about each hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    /// `server/identifier` only.
    Name,
    /// Name plus a one-line description.
    #[default]
    Summary,
    /// The full typed signature, with documentation.
    Full,
}

impl std::str::FromStr for Detail {
    type Err = UnknownDetail;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "name" => Ok(Detail::Name),
            "summary" => Ok(Detail::Summary),
            "full" => Ok(Detail::Full),
            other => Err(UnknownDetail(other.to_owned())),
        }
    }
}

/// A detail level that is not `name`, `summary` or `full`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown detail level `{0}`: use `name`, `summary` or `full`")]
pub struct UnknownDetail(pub String);
