//! The events of `sluice serve --http`'s SSE streams, kept in memory so a client whose connection
//! dropped can resume with `Last-Event-ID`: rmcp's `EventStore`, used for the streams of MCP
//! sessions and of the sessionless protocol alike.
//!
//! An event id is `<stream id>/<index>`; stream ids are rmcp's (random v4 UUIDs, or an MCP
//! session's random id with a suffix), so an id cannot be guessed, and it is sent only to the
//! client of that stream. A replay sends the stream's events after the id and then follows the
//! stream live until its answer (a response or an error) has gone out, so a client that resumes
//! while the code still runs gets the answer when it comes.
//!
//! Bounded: a stream keeps its last [`EVENTS_PER_STREAM`] events, at most [`MAX_STREAMS`]
//! streams are kept (the least recently written go first), and a stream unwritten for
//! [`STREAM_TTL`] is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rmcp::model::ServerJsonRpcMessage;
use rmcp::transport::streamable_http_server::session::{
    EventId, EventStore, EventStoreError, EventStream, ServerSseMessage,
};
use tokio::sync::{mpsc, watch};

/// Events kept per stream.
pub const EVENTS_PER_STREAM: usize = 1024;

/// Streams kept.
pub const MAX_STREAMS: usize = 4096;

/// How long a stream nobody writes to is kept.
pub const STREAM_TTL: Duration = Duration::from_secs(300);

/// The in-memory event store; clones share it.
#[derive(Debug, Default, Clone)]
pub struct Replay {
    streams: Arc<Mutex<HashMap<String, Log>>>,
}

#[derive(Debug)]
struct Log {
    /// Index of `events[0]` (older ones were dropped).
    first: usize,
    events: Vec<ServerSseMessage>,
    /// The stream's answer has been stored: a replay ends after it.
    answered: bool,
    written: Instant,
    /// The number of events stored so far, for live followers.
    count: watch::Sender<usize>,
}

impl Replay {
    fn streams(&self) -> MutexGuard<'_, HashMap<String, Log>> {
        match self.streams.lock() {
            Ok(streams) => streams,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Drop streams past their time, then the least recently written when the count is reached.
    fn prune(streams: &mut HashMap<String, Log>) {
        streams.retain(|_, log| log.written.elapsed() < STREAM_TTL);
        if streams.len() >= MAX_STREAMS {
            // A tenth at a time, so a full store is not sorted for every new stream.
            let mut by_age: Vec<(Instant, String)> = streams
                .iter()
                .map(|(id, log)| (log.written, id.clone()))
                .collect();
            by_age.sort_unstable();
            for (_, id) in by_age.iter().take(MAX_STREAMS / 10 + 1) {
                streams.remove(id);
            }
        }
    }

    /// The event at `index` of `stream`, whether more may come, and a receiver to wait on.
    fn next(&self, stream: &str, index: usize) -> Next {
        let streams = self.streams();
        let Some(log) = streams.get(stream) else {
            return Next::End;
        };
        // Events dropped for the bound are skipped: the client gets the ones that remain.
        let index = index.max(log.first);
        match log.events.get(index - log.first) {
            Some(event) => Next::Event(event.clone(), index),
            None if log.answered => Next::End,
            None => Next::Wait(log.count.subscribe()),
        }
    }
}

enum Next {
    Event(ServerSseMessage, usize),
    Wait(watch::Receiver<usize>),
    End,
}

fn is_answer(event: &ServerSseMessage) -> bool {
    matches!(
        event.message.as_deref(),
        Some(ServerJsonRpcMessage::Response(_) | ServerJsonRpcMessage::Error(_))
    )
}

#[async_trait::async_trait]
impl EventStore for Replay {
    async fn store_event(
        &self,
        stream_id: &str,
        event: &ServerSseMessage,
    ) -> Result<EventId, EventStoreError> {
        let mut streams = self.streams();
        if !streams.contains_key(stream_id) {
            Self::prune(&mut streams);
        }
        let log = streams.entry(stream_id.to_owned()).or_insert_with(|| Log {
            first: 0,
            events: Vec::new(),
            answered: false,
            written: Instant::now(),
            count: watch::channel(0).0,
        });
        let index = log.first + log.events.len();
        let id = format!("{stream_id}/{index}");
        let mut event = event.clone();
        event.event_id = Some(id.clone());
        log.answered |= is_answer(&event);
        log.events.push(event);
        if log.events.len() > EVENTS_PER_STREAM {
            log.events.remove(0);
            log.first += 1;
        }
        log.written = Instant::now();
        log.count.send_replace(index + 1);
        Ok(id)
    }

    async fn replay_events_after(
        &self,
        last_event_id: &str,
    ) -> Result<EventStream, EventStoreError> {
        let Some((stream, index)) = last_event_id
            .rsplit_once('/')
            .and_then(|(stream, index)| Some((stream.to_owned(), index.parse::<usize>().ok()?)))
        else {
            return Err(format!("\"{last_event_id}\" is not an event id of this server").into());
        };
        if !self.streams().contains_key(&stream) {
            return Err(format!("the stream of event \"{last_event_id}\" is gone").into());
        }
        let (sender, mut receiver) = mpsc::channel::<ServerSseMessage>(16);
        let store = self.clone();
        tokio::spawn(async move {
            let mut next = index + 1;
            loop {
                match store.next(&stream, next) {
                    Next::Event(event, at) => {
                        if sender.send(event).await.is_err() {
                            return;
                        }
                        next = at + 1;
                    }
                    Next::Wait(mut count) => {
                        tokio::select! {
                            changed = count.changed() => if changed.is_err() { return },
                            () = sender.closed() => return,
                        }
                    }
                    Next::End => return,
                }
            }
        });
        Ok(Box::pin(futures::stream::poll_fn(move |context| {
            receiver.poll_recv(context)
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use rmcp::model::{JsonRpcResponse, RequestId, ServerResult};

    fn answer() -> ServerSseMessage {
        ServerSseMessage::from_message(ServerJsonRpcMessage::Response(JsonRpcResponse {
            jsonrpc: Default::default(),
            id: RequestId::Number(1),
            result: ServerResult::empty(()),
        }))
    }

    #[tokio::test]
    async fn a_replay_follows_the_stream_until_its_answer() {
        let store = Replay::default();
        let first = store
            .store_event("s", &ServerSseMessage::retry(Duration::from_secs(3)))
            .await
            .unwrap();
        assert_eq!(first, "s/0");
        let mut replay = store.replay_events_after(&first).await.unwrap();
        let writer = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.store_event("s", &answer()).await.unwrap();
        });
        let event = replay.next().await.unwrap();
        assert_eq!(event.event_id.as_deref(), Some("s/1"));
        assert!(
            replay.next().await.is_none(),
            "the replay ends after the answer"
        );
        assert!(store.replay_events_after("t/0").await.is_err());
        assert!(store.replay_events_after("garbage").await.is_err());
    }

    #[tokio::test]
    async fn streams_are_bounded() {
        let store = Replay::default();
        for index in 0..EVENTS_PER_STREAM + 5 {
            let id = store
                .store_event("long", &ServerSseMessage::retry(Duration::from_secs(1)))
                .await
                .unwrap();
            assert_eq!(id, format!("long/{index}"));
        }
        for stream in 0..MAX_STREAMS + 10 {
            store
                .store_event(&stream.to_string(), &answer())
                .await
                .unwrap();
        }
        assert!(store.streams().len() <= MAX_STREAMS);
        assert!(
            store.streams().get("long").is_none(),
            "the oldest stream went first"
        );
    }
}
