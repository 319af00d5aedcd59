//! The words Sluice's crates and processes exchange about how things ended: execution error
//! kinds, tool-error kinds, the limits an execution can hit, outcomes and session events. Each is
//! an enum, written on the wire, in the audit log and in agent-visible text as the same strings as
//! always, and read back tolerantly: a word this build does not know (from a newer worker, or an
//! audit log written by another version) is kept as `Other` rather than refused. The rules about
//! them (which kinds end a session, which limit a kind names) are methods here, stated once.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `Display` and serde as the plain word, for enums with `as_str` and `parse`.
macro_rules! words_as_strings {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok($name::parse(&text))
            }
        }
    )*};
}

/// Declares a wire enum: its variants and their strings, `Other(String)` for unknown words,
/// `as_str`/`parse`/`KNOWN`, `Display`, and serde as the plain string.
macro_rules! wire_words {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )*
            /// A word this build does not know (written by another version), kept as it was.
            Other(String),
        }

        impl $name {
            /// Every known word, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),*];

            /// The word as written on the wire and in the audit log.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(text) => text,
                }
            }

            /// The word for `text`; unknown text becomes `Other`.
            pub fn parse(text: &str) -> $name {
                match text {
                    $( $text => $name::$variant, )*
                    other => $name::Other(other.to_owned()),
                }
            }

            /// The text of an unknown word, to bound or inspect; `None` for a known one.
            pub fn other_mut(&mut self) -> Option<&mut String> {
                match self {
                    $name::Other(text) => Some(text),
                    _ => None,
                }
            }
        }

        words_as_strings!($name);
    };
}

wire_words! {
    /// Why an execution failed: the `type` of its error, as the agent sees it.
    ErrorKind {
        /// The code does not parse (or does not compile in QuickJS).
        SyntaxError = "SyntaxError",
        /// An import names a module that does not exist, or a name the module does not export.
        ImportError = "ImportError",
        /// An uncaught `ToolError` from a tool call.
        ToolError = "ToolError",
        /// An uncaught `ToolError` of a call the privacy flow policy refused.
        PolicyDenied = "PolicyDenied",
        /// Any other uncaught exception, unhandled rejection or stack overflow.
        RuntimeError = "RuntimeError",
        /// The wall-time limit was reached.
        Timeout = "Timeout",
        /// The JavaScript heap reached the memory limit.
        OutOfMemory = "OutOfMemory",
        /// The code made more tool calls than the limit allows.
        ToolCallLimit = "ToolCallLimit",
        /// The engine failed, or lost its channel to the gateway.
        InternalError = "InternalError",
        /// The worker received a message it could not decode.
        ProtocolError = "ProtocolError",
        /// The worker died, or could not be started.
        WorkerCrashed = "WorkerCrashed",
        /// The client cancelled the execution, or Sluice is shutting down.
        Cancelled = "Cancelled",
        /// Code execution is off in this gateway.
        Unavailable = "Unavailable",
        /// The client already runs as many executions at once as it may.
        ConcurrencyLimit = "ConcurrencyLimit",
        /// The client has used up its executions.
        ExecutionLimit = "ExecutionLimit",
        /// The session cannot take this execution (its executions are used up, or no session
        /// could be opened).
        SessionLimit = "SessionLimit",
        /// The session is running another execution.
        SessionBusy = "SessionBusy",
        /// The session id is not one Sluice accepts.
        InvalidSession = "InvalidSession",
        /// The principal (`sluice serve --http`) runs as many executions at once, or started as
        /// many this minute, as `sluice.limits.perPrincipal` allows; the report says when to retry.
        PrincipalLimit = "PrincipalLimit",
    }
}

impl ErrorKind {
    /// Whether an execution that failed this way leaves no runtime to continue a session in:
    /// the worker discarded it (interrupted, out of memory, broken) or the worker is gone.
    pub fn ends_session(&self) -> bool {
        matches!(
            self,
            ErrorKind::Cancelled
                | ErrorKind::Timeout
                | ErrorKind::OutOfMemory
                | ErrorKind::WorkerCrashed
                | ErrorKind::InternalError
                | ErrorKind::ProtocolError
        )
    }

    /// The limit an execution that failed this way ran into, if it was one.
    pub fn limit(&self) -> Option<Limit> {
        Some(match self {
            ErrorKind::Timeout => Limit::Timeout,
            ErrorKind::OutOfMemory => Limit::Memory,
            ErrorKind::ToolCallLimit => Limit::ToolCalls,
            ErrorKind::ConcurrencyLimit => Limit::ConcurrentExecutions,
            ErrorKind::ExecutionLimit => Limit::ExecutionsPerClient,
            ErrorKind::SessionLimit => Limit::SessionExecutions,
            ErrorKind::PrincipalLimit => Limit::Principal,
            _ => return None,
        })
    }
}

wire_words! {
    /// Why a tool call failed: the `kind` of the `ToolError` agent code catches.
    ToolErrorKind {
        /// The tool itself reported an error (`isError`).
        Tool = "tool",
        /// The arguments do not match the tool's input schema.
        InvalidArguments = "invalid_arguments",
        /// No such server or tool.
        UnknownTool = "unknown_tool",
        /// The server is down, starting or reconnecting.
        ServerUnavailable = "server_unavailable",
        /// The call took longer than its time limit.
        Timeout = "timeout",
        /// The execution's tool-call limit was reached.
        Limit = "limit",
        /// The connection to the server failed.
        Transport = "transport",
        /// The server's rate limit (`sluice.limits.callsPerSecond`) refused the call.
        RateLimited = "rate_limited",
        /// The privacy flow policy refused to send personal data to this tool.
        PolicyDenied = "policy_denied",
        /// The call would send more personal-data values in clear text than the execution may
        /// (`sluice.privacy.maxClearValues`).
        PrivacyBudget = "privacy_budget",
        /// The tool policy (`sluice.tools`) denies the tool; the message names the rule.
        Denied = "denied",
        /// The tool policy says a person must approve each call of this tool (`ask`), and no
        /// approval could be asked for.
        ApprovalRequired = "approval_required",
        /// The person declined the call the tool policy asked them to approve, or did not
        /// answer in time.
        ApprovalDenied = "approval_denied",
        /// The server presents a definition of the tool other than the pinned one: the tool is
        /// held back until a person accepts it (`sluice tools review`); the message names the
        /// fields that changed.
        DefinitionChanged = "definition_changed",
    }
}

wire_words! {
    /// A limit an execution ran into, as the audit log's `limits_hit` names it.
    Limit {
        /// The wall-time limit.
        Timeout = "timeout",
        /// The memory limit.
        Memory = "memory",
        /// The tool-call limit.
        ToolCalls = "tool_calls",
        /// The output budget (output was cut).
        OutputBytes = "output_bytes",
        /// A server's rate limit refused calls.
        Rate = "rate",
        /// The client's concurrent executions.
        ConcurrentExecutions = "concurrent_executions",
        /// The client's executions in all.
        ExecutionsPerClient = "executions_per_client",
        /// The session's executions.
        SessionExecutions = "session_executions",
        /// A limit of the principal (`sluice.limits.perPrincipal`).
        Principal = "principal",
    }
}

wire_words! {
    /// How an execution ended, in its audit record.
    ExecutionOutcomeWord {
        /// It ran to the end.
        Ok = "ok",
        /// It failed; the record's `error_kind` says how.
        Error = "error",
    }
}

/// How a tool call ended, in its audit record: `ok`, or the kind of its `ToolError`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// The call succeeded.
    Ok,
    /// It failed this way.
    Failed(ToolErrorKind),
}

impl CallOutcome {
    /// The word written in the audit log.
    pub fn as_str(&self) -> &str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Failed(kind) => kind.as_str(),
        }
    }

    /// The outcome `text` names. `tool_error`, the name older help text gave the `tool` kind,
    /// is read as `tool`.
    pub fn parse(text: &str) -> CallOutcome {
        match text {
            "ok" => CallOutcome::Ok,
            "tool_error" => CallOutcome::Failed(ToolErrorKind::Tool),
            other => CallOutcome::Failed(ToolErrorKind::parse(other)),
        }
    }

    /// The text of an unknown word, to bound or inspect; `None` for a known one.
    pub fn other_mut(&mut self) -> Option<&mut String> {
        match self {
            CallOutcome::Ok => None,
            CallOutcome::Failed(kind) => kind.other_mut(),
        }
    }
}

wire_words! {
    /// What happened to a session, in its audit record.
    SessionEvent {
        /// It was opened.
        Created = "created",
        /// It ended; the record's reason says why.
        Ended = "ended",
    }
}

/// Why a session ended, in its audit record: one of these words, or the kind of the error that
/// took its runtime.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionEnd {
    /// The client connection closed.
    ClientDisconnected,
    /// It was idle longer than `sluice.sessions.idleTimeoutMs`.
    Idle,
    /// A new session needed its place (`sluice.sessions.maxSessions`).
    MaxSessions,
    /// It used up its executions (`sluice.sessions.maxExecutions`).
    MaxExecutions,
    /// Its worker is gone without an error to name.
    WorkerLost,
    /// An execution failed in a way that ends the session ([`ErrorKind::ends_session`]).
    Failed(ErrorKind),
}

impl SessionEnd {
    /// The word written in the audit log.
    pub fn as_str(&self) -> &str {
        match self {
            SessionEnd::ClientDisconnected => "client_disconnected",
            SessionEnd::Idle => "idle",
            SessionEnd::MaxSessions => "max_sessions",
            SessionEnd::MaxExecutions => "max_executions",
            SessionEnd::WorkerLost => "worker_lost",
            SessionEnd::Failed(kind) => kind.as_str(),
        }
    }

    /// The reason `text` names.
    pub fn parse(text: &str) -> SessionEnd {
        match text {
            "client_disconnected" => SessionEnd::ClientDisconnected,
            "idle" => SessionEnd::Idle,
            "max_sessions" => SessionEnd::MaxSessions,
            "max_executions" => SessionEnd::MaxExecutions,
            "worker_lost" => SessionEnd::WorkerLost,
            other => SessionEnd::Failed(ErrorKind::parse(other)),
        }
    }

    /// The text of an unknown word, to bound or inspect; `None` for a known one.
    pub fn other_mut(&mut self) -> Option<&mut String> {
        match self {
            SessionEnd::Failed(kind) => kind.other_mut(),
            _ => None,
        }
    }
}

words_as_strings!(CallOutcome, SessionEnd);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself_and_unknown_words_are_kept() {
        for kind in ErrorKind::KNOWN {
            assert_eq!(&ErrorKind::parse(kind.as_str()), kind);
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), *kind);
        }
        for kind in ToolErrorKind::KNOWN {
            assert_eq!(&ToolErrorKind::parse(kind.as_str()), kind);
            let outcome = CallOutcome::Failed(kind.clone());
            assert_eq!(CallOutcome::parse(outcome.as_str()), outcome);
        }
        for limit in Limit::KNOWN {
            assert_eq!(&Limit::parse(limit.as_str()), limit);
        }
        assert_eq!(
            serde_json::from_str::<ErrorKind>("\"FutureKind\"").unwrap(),
            ErrorKind::Other("FutureKind".to_owned())
        );
        assert_eq!(CallOutcome::parse("ok"), CallOutcome::Ok);
        for end in [
            SessionEnd::ClientDisconnected,
            SessionEnd::Idle,
            SessionEnd::MaxSessions,
            SessionEnd::MaxExecutions,
            SessionEnd::WorkerLost,
            SessionEnd::Failed(ErrorKind::Timeout),
        ] {
            assert_eq!(SessionEnd::parse(end.as_str()), end);
        }
    }

    #[test]
    fn the_rules_are_stated_once() {
        let ending: Vec<&str> = ErrorKind::KNOWN
            .iter()
            .filter(|kind| kind.ends_session())
            .map(ErrorKind::as_str)
            .collect();
        assert_eq!(
            ending,
            [
                "Timeout",
                "OutOfMemory",
                "InternalError",
                "ProtocolError",
                "WorkerCrashed",
                "Cancelled"
            ]
        );
        assert_eq!(ErrorKind::Timeout.limit(), Some(Limit::Timeout));
        assert_eq!(ErrorKind::ToolError.limit(), None);
        assert_eq!(
            ErrorKind::SessionLimit.limit(),
            Some(Limit::SessionExecutions)
        );
    }
}
