//! The Slack-like `chat` server: `getChannelHistory`, `sendMessage`, state in memory.
//!
//! `#deployments` counts its reads: from the N-th `getChannelHistory` of it on, its history ends
//! with [`DEPLOYMENT_COMPLETE`].

use std::sync::{Mutex, PoisonError};

use rmcp::model::Tool;
use serde_json::{Map, Value, json};

use crate::DemoOptions;
use crate::data;
use crate::tool::{Args, Outcome, define, list};

/// The message that ends `#deployments` once the deployment is done.
pub const DEPLOYMENT_COMPLETE: &str = "Deployment complete: api v2.14.0 is live";
/// The channel that counts polls.
pub const DEPLOYMENTS: &str = "#deployments";
/// The `user` of messages sent through `sendMessage`.
pub const SENDER: &str = "assistant";

const DEPLOY_BOT: &str = "deploybot";

struct Message {
    ts: String,
    user: String,
    text: String,
}

struct Channel {
    name: String,
    messages: Vec<Message>,
}

struct ChatState {
    channels: Vec<Channel>,
    polls: u32,
    deployed: bool,
    /// Seconds since the epoch of the next message; advances with every message.
    clock: u64,
    /// Makes every `ts` unique, as Slack's are.
    sequence: u64,
}

impl ChatState {
    fn ts(&mut self, advance: u64) -> String {
        self.clock += advance;
        self.sequence += 1;
        format!("{}.{:06}", self.clock, self.sequence * 100 % 1_000_000)
    }

    fn post(&mut self, channel: &str, user: &str, text: &str, advance: u64) -> String {
        let ts = self.ts(advance);
        let message = Message {
            ts: ts.clone(),
            user: user.to_owned(),
            text: text.to_owned(),
        };
        match self.channels.iter_mut().find(|known| known.name == channel) {
            Some(known) => known.messages.push(message),
            None => self.channels.push(Channel {
                name: channel.to_owned(),
                messages: vec![message],
            }),
        }
        ts
    }
}

/// The chat workspace and its channels.
pub(crate) struct Chat {
    state: Mutex<ChatState>,
    deploy_after_polls: u32,
}

impl Chat {
    pub(crate) fn new(options: &DemoOptions) -> Self {
        let users: Vec<String> = data::names(options.seed, "chat-users", 6)
            .into_iter()
            .map(|(first, last)| format!("{first}.{last}").to_ascii_lowercase())
            .collect();
        let user = |index: usize| users[index % users.len()].as_str();
        // The morning of Tuesday 2026-11-03, UTC.
        let morning = data::epoch_seconds_2026(data::day_of_2026(11, 3)) + 8 * 3_600;
        let mut state = ChatState {
            channels: Vec::new(),
            polls: 0,
            deployed: false,
            clock: morning - 86_400,
            sequence: 0,
        };
        let deployments: &[(&str, &str, u64)] = &[
            (
                DEPLOY_BOT,
                "Released web v3.8.1 to production (build 4771).",
                0,
            ),
            (
                user(0),
                "Heads up: api v2.14.0 goes out tomorrow morning once the migration check passes.",
                3_100,
            ),
            (
                DEPLOY_BOT,
                "Started: worker v1.22.3 to production (build 4794).",
                2_450,
            ),
            (
                DEPLOY_BOT,
                "Released worker v1.22.3 to production (build 4794).",
                540,
            ),
            (
                user(1),
                "Migration check for api v2.14.0 passed on staging.",
                57_000,
            ),
            (
                DEPLOY_BOT,
                "Started: api v2.14.0 to production (build 4812).",
                1_900,
            ),
            (
                DEPLOY_BOT,
                "api v2.14.0: canary at 10%, error rate normal.",
                420,
            ),
        ];
        for (author, text, advance) in deployments {
            state.post(DEPLOYMENTS, author, text, *advance);
        }
        let general: Vec<(&str, String)> = vec![
            (
                user(2),
                "Morning all! The Q4 planning notes will be in the Meetings folder by tonight."
                    .to_owned(),
            ),
            (
                user(3),
                "Office wifi maintenance tonight at 9pm, expect a short outage.".to_owned(),
            ),
            (
                user(4),
                format!(
                    "Please welcome @{}, who joins the sales team today!",
                    user(5)
                ),
            ),
            (
                user(1),
                "Does anyone have the link to the customer advisory board agenda?".to_owned(),
            ),
            (user(2), "It's pinned in #marketing.".to_owned()),
            (
                user(5),
                "Lunch and learn on the new analytics dashboard on Thursday at noon.".to_owned(),
            ),
        ];
        state.clock = morning - 7_200;
        for (author, text) in &general {
            state.post("#general", author, text, 600);
        }
        state.clock = morning + 3_600;
        Self {
            state: Mutex::new(state),
            deploy_after_polls: options.deploy_after_polls.max(1),
        }
    }

    pub(crate) fn tools() -> Vec<Tool> {
        let message = json!({
            "type": "object",
            "properties": {
                "ts": {"type": "string", "description": "Message timestamp, unique per message."},
                "user": {"type": "string"},
                "text": {"type": "string"}
            },
            "required": ["ts", "user", "text"]
        });
        vec![
            define(
                "getChannelHistory",
                "Get the messages of a channel, oldest first (newest last).",
                json!({
                    "type": "object",
                    "properties": {
                        "channel": {
                            "type": "string",
                            "description": "Channel name with its #, e.g. \"#general\", or \"@name\" for a direct message."
                        },
                        "limit": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "Only the newest N messages. Default: all."
                        }
                    },
                    "required": ["channel"],
                    "additionalProperties": false
                }),
                json!({
                    "type": "object",
                    "properties": {
                        "channel": {"type": "string"},
                        "messages": {"type": "array", "items": message}
                    },
                    "required": ["channel", "messages"]
                }),
            ),
            define(
                "sendMessage",
                "Post a message to a channel (\"#name\") or send a direct message (\"@name\").",
                json!({
                    "type": "object",
                    "properties": {
                        "channel": {
                            "type": "string",
                            "description": "\"#channel\" or \"@name\" for a direct message."
                        },
                        "text": {"type": "string", "description": "The message text."}
                    },
                    "required": ["channel", "text"],
                    "additionalProperties": false
                }),
                json!({
                    "type": "object",
                    "properties": {
                        "ok": {"type": "boolean", "const": true},
                        "channel": {"type": "string"},
                        "ts": {"type": "string", "description": "Timestamp of the new message."}
                    },
                    "required": ["ok", "channel", "ts"]
                }),
            ),
        ]
    }

    pub(crate) fn call(&self, name: &str, arguments: &Map<String, Value>) -> Option<Outcome> {
        Some(match name {
            "getChannelHistory" => self.history(arguments),
            "sendMessage" => self.send(arguments),
            _ => return None,
        })
    }

    fn history(&self, arguments: &Map<String, Value>) -> Outcome {
        let args = Args::new("getChannelHistory", arguments, &["channel", "limit"])?;
        let channel = args.string("channel")?;
        let limit = args.optional_count("limit", 1)?;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if channel == DEPLOYMENTS {
            state.polls = state.polls.saturating_add(1);
            tracing::debug!(polls = state.polls, "#deployments polled");
            if state.polls >= self.deploy_after_polls && !state.deployed {
                state.deployed = true;
                state.post(DEPLOYMENTS, DEPLOY_BOT, DEPLOYMENT_COMPLETE, 95);
            }
        }
        let Some(found) = state.channels.iter().find(|known| known.name == channel) else {
            return Err(format!(
                "getChannelHistory: there is no channel \"{channel}\"; channels are {}.",
                list(
                    state
                        .channels
                        .iter()
                        .map(|known| format!("\"{}\"", known.name))
                )
            ));
        };
        let skip = limit.map_or(0, |limit| found.messages.len().saturating_sub(limit));
        let messages: Vec<Value> = found.messages[skip..]
            .iter()
            .map(|message| json!({"ts": message.ts, "user": message.user, "text": message.text}))
            .collect();
        Ok(json!({ "channel": channel, "messages": messages }))
    }

    fn send(&self, arguments: &Map<String, Value>) -> Outcome {
        let args = Args::new("sendMessage", arguments, &["channel", "text"])?;
        let channel = args.string("channel")?;
        let text = args.string("text")?;
        let named = channel
            .strip_prefix('#')
            .or_else(|| channel.strip_prefix('@'))
            .is_some_and(|name| !name.trim().is_empty());
        if !named {
            return Err(format!(
                "sendMessage: `channel` must be \"#name\" for a channel or \"@name\" for a direct message, got \"{channel}\"."
            ));
        }
        if text.trim().is_empty() {
            return Err("sendMessage: `text` is empty.".to_owned());
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let ts = state.post(channel, SENDER, text, 3);
        Ok(json!({ "ok": true, "channel": channel, "ts": ts }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(polls: u32) -> Chat {
        Chat::new(&DemoOptions {
            deploy_after_polls: polls,
            ..DemoOptions::default()
        })
    }

    fn call(chat: &Chat, name: &str, arguments: Value) -> Outcome {
        let Value::Object(arguments) = arguments else {
            panic!("arguments are an object")
        };
        chat.call(name, &arguments)
            .unwrap_or_else(|| Err(format!("no tool {name}")))
    }

    fn last_text(value: &Value) -> String {
        value["messages"]
            .as_array()
            .and_then(|messages| messages.last())
            .and_then(|message| message["text"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn deployment_completes_exactly_at_the_nth_poll() {
        for n in [1, 2, 5] {
            let chat = chat(n);
            for poll in 1..=n + 2 {
                let history = call(
                    &chat,
                    "getChannelHistory",
                    json!({"channel": "#deployments"}),
                )
                .unwrap_or_default();
                let done = last_text(&history) == DEPLOYMENT_COMPLETE;
                assert_eq!(done, poll >= n, "poll {poll} of {n}");
                let count = history["messages"].as_array().map_or(0, |m| {
                    m.iter()
                        .filter(|m| m["text"] == DEPLOYMENT_COMPLETE)
                        .count()
                });
                assert_eq!(count, usize::from(poll >= n));
            }
        }
        // Reads of other channels are not polls.
        let chat = chat(2);
        for _ in 0..5 {
            let _ = call(&chat, "getChannelHistory", json!({"channel": "#general"}));
        }
        let history = call(
            &chat,
            "getChannelHistory",
            json!({"channel": "#deployments"}),
        )
        .unwrap_or_default();
        assert_ne!(last_text(&history), DEPLOYMENT_COMPLETE);
        // No routine message looks like the completion.
        assert!(
            history["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|m| !m["text"].as_str().unwrap_or_default().contains("complete"))
        );
    }

    #[test]
    fn zero_polls_means_the_first() {
        let chat = chat(0);
        let history = call(
            &chat,
            "getChannelHistory",
            json!({"channel": "#deployments"}),
        )
        .unwrap_or_default();
        assert_eq!(last_text(&history), DEPLOYMENT_COMPLETE);
    }

    #[test]
    fn send_then_read_direct_messages() {
        let chat = chat(5);
        let sent = call(
            &chat,
            "sendMessage",
            json!({"channel": "@maria.chen", "text": "Hi Maria"}),
        )
        .unwrap_or_default();
        assert_eq!(sent["ok"], true);
        assert_eq!(sent["channel"], "@maria.chen");
        let again = call(
            &chat,
            "sendMessage",
            json!({"channel": "@maria.chen", "text": "Again"}),
        )
        .unwrap_or_default();
        assert!(again["ts"].as_str() > sent["ts"].as_str());
        let history = call(
            &chat,
            "getChannelHistory",
            json!({"channel": "@maria.chen"}),
        )
        .unwrap_or_default();
        let texts: Vec<&str> = history["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["text"].as_str())
            .collect();
        assert_eq!(texts, ["Hi Maria", "Again"]);
        assert_eq!(history["messages"][0]["user"], SENDER);
        let limited = call(
            &chat,
            "getChannelHistory",
            json!({"channel": "#general", "limit": 2}),
        )
        .unwrap_or_default();
        assert_eq!(limited["messages"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn errors_name_the_channels() {
        let chat = chat(5);
        let error = call(
            &chat,
            "getChannelHistory",
            json!({"channel": "deployments"}),
        )
        .err()
        .unwrap_or_default();
        assert!(
            error.contains("\"#deployments\" and \"#general\""),
            "{error}"
        );
        let error = call(
            &chat,
            "sendMessage",
            json!({"channel": "general", "text": "x"}),
        )
        .err()
        .unwrap_or_default();
        assert!(error.contains("\"#name\""), "{error}");
        let error = call(
            &chat,
            "sendMessage",
            json!({"channel": "#general", "text": " "}),
        )
        .err()
        .unwrap_or_default();
        assert!(error.contains("empty"), "{error}");
    }
}
