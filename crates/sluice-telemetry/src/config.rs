//! Where traces go: `sluice.telemetry.traces` first, then the standard variables.

use sluice_config::{TelemetrySettings, check_endpoint};

use crate::TelemetryError;

/// The collector's address when nothing names one (OTLP/HTTP's default port).
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";

/// The path of traces under an OTLP/HTTP base URL.
const TRACES_PATH: &str = "/v1/traces";

/// Resolved trace settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceConfig {
    /// The full URL spans are POSTed to (`.../v1/traces`).
    pub endpoint: String,
    /// Headers of every export from the config (`OTEL_EXPORTER_OTLP_HEADERS` and
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` are added by the exporter; a header named in both
    /// takes the variable's value).
    pub headers: Vec<(String, String)>,
    /// `service.name`.
    pub service_name: String,
    /// Fraction of new traces kept.
    pub sample_ratio: f64,
}

impl TraceConfig {
    /// Whether traces are on, and where they go.
    ///
    /// On when `sluice.telemetry.traces` is present (and not `"enabled": false`), or when
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set; off when
    /// `OTEL_SDK_DISABLED` is `true` or `OTEL_TRACES_EXPORTER` is `none`. The config's values
    /// come first, then the variables: the endpoint is the config's `endpoint` (a base URL),
    /// else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as it is), else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL), else [`DEFAULT_ENDPOINT`]; `/v1/traces` is
    /// appended to a base URL unless its path already ends with it. The service name is
    /// `serviceName`, else `OTEL_SERVICE_NAME`, else `sluice`.
    pub fn resolve(
        settings: &TelemetrySettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<TraceConfig>, TelemetryError> {
        let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        if env("OTEL_SDK_DISABLED").is_some_and(|value| value.trim().eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        if let Some(exporter) = env("OTEL_TRACES_EXPORTER") {
            match exporter.trim() {
                "none" => return Ok(None),
                "otlp" => {}
                _ => {
                    return Err(TelemetryError::Variable {
                        variable: "OTEL_TRACES_EXPORTER",
                        value: exporter,
                        problem: "Sluice exports traces only over OTLP; set it to otlp or none, or unset it"
                            .to_owned(),
                    });
                }
            }
        }
        let traces_endpoint = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let base_endpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT");
        let traces = match &settings.traces {
            Some(traces) if !traces.enabled => return Ok(None),
            Some(traces) => Some(traces),
            None if traces_endpoint.is_none() && base_endpoint.is_none() => return Ok(None),
            None => None,
        };
        for variable in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = env(variable)
                && protocol.trim() != "http/protobuf"
            {
                return Err(TelemetryError::Variable {
                    variable,
                    value: protocol,
                    problem: "Sluice exports OTLP over HTTP with protobuf only; set it to \
                              http/protobuf (or unset it) and point the endpoint at the \
                              collector's OTLP/HTTP port (4318)"
                        .to_owned(),
                });
            }
        }
        let endpoint = match (
            traces.and_then(|traces| traces.endpoint.as_ref()),
            traces_endpoint,
            base_endpoint,
        ) {
            (Some(endpoint), _, _) => with_traces_path(endpoint),
            (None, Some(endpoint), _) => {
                check_variable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint)?;
                endpoint.trim().to_owned()
            }
            (None, None, Some(endpoint)) => {
                check_variable("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)?;
                with_traces_path(endpoint.trim())
            }
            (None, None, None) => with_traces_path(DEFAULT_ENDPOINT),
        };
        let service_name = traces
            .and_then(|traces| traces.service_name.clone())
            .or_else(|| env("OTEL_SERVICE_NAME").map(|name| name.trim().to_owned()))
            .unwrap_or_else(|| "sluice".to_owned());
        Ok(Some(TraceConfig {
            endpoint,
            headers: traces
                .map(|traces| {
                    traces
                        .headers
                        .iter()
                        .map(|(name, value)| (name.clone(), value.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            service_name,
            sample_ratio: traces.map_or(1.0, |traces| traces.sample_ratio),
        }))
    }
}

fn check_variable(variable: &'static str, value: &str) -> Result<(), TelemetryError> {
    check_endpoint(value.trim()).map_err(|problem| TelemetryError::Variable {
        variable,
        value: value.to_owned(),
        problem,
    })
}

/// A base URL with `/v1/traces` appended, unless its path already ends with it.
fn with_traces_path(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with(TRACES_PATH) {
        base.to_owned()
    } else {
        format!("{base}{TRACES_PATH}")
    }
}
