//! `sluice.telemetry`: OpenTelemetry traces of executions, tool calls, searches and worker
//! starts, exported over OTLP (HTTP/protobuf) by `sluice-telemetry`.
//!
//! ```json
//! "sluice": {
//!   "telemetry": {
//!     "traces": {
//!       "endpoint": "http://127.0.0.1:4318",
//!       "headers": {"authorization": "Bearer ..."},
//!       "serviceName": "sluice",
//!       "sampleRatio": 1.0
//!     }
//!   }
//! }
//! ```
//!
//! Off by default. The standard `OTEL_EXPORTER_OTLP_*` variables turn traces on too (read by
//! `sluice-telemetry`, not here: this crate reads only the file).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// `sluice.telemetry`. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct TelemetrySettings {
    /// Traces: absent means "only if the `OTEL_EXPORTER_OTLP_*` variables ask for them".
    pub traces: Option<TraceSettings>,
}

/// `sluice.telemetry.traces`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct TraceSettings {
    /// Export traces. Default true when the section is there; `false` turns them off even when
    /// the `OTEL_EXPORTER_OTLP_*` variables are set.
    pub enabled: bool,
    /// The collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`); `/v1/traces` is appended
    /// unless the path already ends with it. Default: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4318`.
    pub endpoint: Option<String>,
    /// HTTP headers sent with every export (an API key). `OTEL_EXPORTER_OTLP_HEADERS` adds to
    /// them.
    pub headers: BTreeMap<String, String>,
    /// The `service.name` of the spans. Default: `OTEL_SERVICE_NAME`, else `sluice`.
    pub service_name: Option<String>,
    /// The fraction of new traces kept, from 0 to 1 (a trace continued from the agent's
    /// `traceparent` follows that one's sampled flag). Default 1.
    pub sample_ratio: f64,
}

impl Default for TraceSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            endpoint: None,
            headers: BTreeMap::new(),
            service_name: None,
            sample_ratio: 1.0,
        }
    }
}

/// Parse `sluice.telemetry`. The error is `(field path below "sluice", message)`.
pub(crate) fn parse(value: Value) -> Result<TelemetrySettings, (String, String)> {
    let settings = serde_json::from_value::<TelemetrySettings>(value)
        .map_err(|error| ("telemetry".to_owned(), error.to_string()))?;
    if let Some(traces) = &settings.traces {
        check_traces(traces)?;
    }
    Ok(settings)
}

fn check_traces(traces: &TraceSettings) -> Result<(), (String, String)> {
    if !traces.sample_ratio.is_finite() || !(0.0..=1.0).contains(&traces.sample_ratio) {
        return Err((
            "telemetry.traces.sampleRatio".to_owned(),
            format!(
                "must be a number from 0 to 1 (the fraction of traces kept), got {}",
                traces.sample_ratio
            ),
        ));
    }
    if let Some(endpoint) = &traces.endpoint
        && let Err(problem) = check_endpoint(endpoint)
    {
        return Err(("telemetry.traces.endpoint".to_owned(), problem));
    }
    if let Some(name) = &traces.service_name
        && name.trim().is_empty()
    {
        return Err((
            "telemetry.traces.serviceName".to_owned(),
            "must not be empty; leave it out for \"sluice\"".to_owned(),
        ));
    }
    for (name, value) in &traces.headers {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err((
                format!("telemetry.traces.headers.{name}"),
                "is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)".to_owned(),
            ));
        }
        if !value
            .bytes()
            .all(|byte| byte == b'\t' || (b' '..=b'~').contains(&byte))
        {
            return Err((
                format!("telemetry.traces.headers.{name}"),
                "is not a valid HTTP header value (printable ASCII only, no line breaks)"
                    .to_owned(),
            ));
        }
    }
    Ok(())
}

/// Whether `endpoint` is an `http://` or `https://` URL with a host: the problem when not.
pub fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    let Some(rest) = rest else {
        return Err(format!(
            "\"{}\" is not an http:// or https:// URL (OTLP over HTTP, such as http://127.0.0.1:4318)",
            endpoint.escape_debug()
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!(
            "\"{}\" has no host (such as http://127.0.0.1:4318)",
            endpoint.escape_debug()
        ));
    }
    Ok(())
}

/// A `tchar` of RFC 9110.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}
