//! Elicitation passes through: a server's `elicitation/create` during a tool call goes to whoever
//! made the call (the agent's client, through the gateway), and the answer comes back.
//!
//! An MCP message does not say which of the client's requests a server request belongs to, so
//! each server keeps its calls in flight with the [`Elicitor`] of each. A question goes to the
//! call's elicitor when the calls in flight name one (one call, or several made for the same
//! agent); otherwise it is declined, and the reason is kept with the calls so the code sees it
//! (in the `ToolError` of a call that then fails), and sent to the server in the answer's `_meta`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction, MetaObject};
use serde_json::Value;

/// The `_meta` key of the reason Sluice gives a server for declining.
pub const DECLINE_REASON_META: &str = "sluice/reason";

/// An answer in progress.
pub type ElicitFuture = Pin<Box<dyn Future<Output = Result<ElicitResult, String>> + Send>>;

/// Answers a server's questions for the code that made a tool call. `Err` is why it cannot
/// (said to the code and to the server; the server gets a decline).
pub trait Elicitor: Send + Sync + std::fmt::Debug {
    /// Ask, and wait for the answer.
    fn elicit(&self, request: ElicitRequestParams) -> ElicitFuture;
}

/// An elicitor shared by the calls of one execution.
pub type SharedElicitor = Arc<dyn Elicitor>;

/// Answers every form question with the defaults its schema gives (fields without one left out),
/// and declines URL questions: for `sluice exec --elicitation defaults`, where no one is there to
/// ask.
#[derive(Debug, Default)]
pub struct AcceptDefaults;

impl Elicitor for AcceptDefaults {
    fn elicit(&self, request: ElicitRequestParams) -> ElicitFuture {
        let answer = match request {
            ElicitRequestParams::FormElicitationParams {
                requested_schema, ..
            } => {
                let schema = serde_json::to_value(&requested_schema).unwrap_or(Value::Null);
                let mut content = serde_json::Map::new();
                if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                    for (name, property) in properties {
                        if let Some(default) = property.get("default") {
                            content.insert(name.clone(), default.clone());
                        }
                    }
                }
                Ok(ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content)))
            }
            _ => Err(
                "the server asked something other than a form, and `sluice exec --elicitation defaults` answers only forms"
                    .to_owned(),
            ),
        };
        Box::pin(std::future::ready(answer))
    }
}

/// One server's calls in flight, each with its elicitor (if its code has one).
#[derive(Default)]
pub(crate) struct InFlight {
    calls: Mutex<Vec<Call>>,
    next: std::sync::atomic::AtomicU64,
}

struct Call {
    id: u64,
    elicitor: Option<SharedElicitor>,
    /// Questions declined during the call, with why.
    declined: Vec<String>,
}

/// A call counted in flight until it drops.
pub(crate) struct CallGuard {
    in_flight: Arc<InFlight>,
    id: u64,
}

impl CallGuard {
    /// The reasons of the questions declined during this call.
    pub(crate) fn declined(&self) -> Vec<String> {
        let calls = self
            .in_flight
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        calls
            .iter()
            .find(|call| call.id == self.id)
            .map(|call| call.declined.clone())
            .unwrap_or_default()
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let mut calls = self
            .in_flight
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        calls.retain(|call| call.id != self.id);
    }
}

impl InFlight {
    pub(crate) fn begin(self: &Arc<Self>, elicitor: Option<SharedElicitor>) -> CallGuard {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Call {
                id,
                elicitor,
                declined: Vec::new(),
            });
        CallGuard {
            in_flight: self.clone(),
            id,
        }
    }

    /// Where a question of the server goes: `Ok` the elicitor of the calls in flight, `Err` why
    /// no one can answer it.
    fn route(&self, server: &str) -> Result<SharedElicitor, String> {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(first) = calls.first() else {
            return Err(format!(
                "server \"{server}\" asked for input while no tool call of agent code was in flight"
            ));
        };
        let Some(elicitor) = &first.elicitor else {
            return Err(format!(
                "server \"{server}\" asked for input, and no one answers for this execution (the \
                 agent's client did not declare elicitation; `sluice exec` answers only with \
                 --elicitation defaults), so Sluice declined"
            ));
        };
        let same = calls.iter().all(|call| {
            call.elicitor
                .as_ref()
                .is_some_and(|other| Arc::ptr_eq(other, elicitor))
        });
        if !same {
            return Err(format!(
                "server \"{server}\" asked for input while calls of several agents were in flight \
                 to it, and MCP does not say which call a question belongs to, so Sluice declined; \
                 make such calls one at a time"
            ));
        }
        Ok(elicitor.clone())
    }

    fn note_declined(&self, reason: &str) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        for call in calls.iter_mut() {
            call.declined.push(reason.to_owned());
        }
    }

    /// Answer the server's question: forwarded, or declined with the reason.
    pub(crate) async fn answer(&self, server: &str, request: ElicitRequestParams) -> ElicitResult {
        let answered = match self.route(server) {
            Ok(elicitor) => elicitor.elicit(request).await,
            Err(reason) => Err(reason),
        };
        match answered {
            Ok(result) => result,
            Err(reason) => {
                tracing::info!(server, "elicitation declined: {reason}");
                self.note_declined(&reason);
                let mut meta = serde_json::Map::new();
                meta.insert(DECLINE_REASON_META.to_owned(), Value::String(reason));
                ElicitResult::new(ElicitationAction::Decline).with_meta(MetaObject(meta))
            }
        }
    }
}
