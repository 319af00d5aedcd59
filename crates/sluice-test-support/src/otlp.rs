//! A small OTLP/HTTP receiver for tests and benchmarks: it accepts `POST`s on a loopback port,
//! answers each with `200` and an empty protobuf body (an empty `ExportTraceServiceResponse`),
//! and keeps what it received (or only counts it). Decoding is the caller's business, with the
//! official protobuf definitions (`opentelemetry-proto`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct OtlpRequest {
    /// The request target (`/v1/traces`).
    pub path: String,
    /// Its headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Its body (protobuf).
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Received {
    requests: Mutex<Vec<OtlpRequest>>,
    count: AtomicU64,
    stopped: AtomicBool,
}

/// The receiver; it stops accepting when dropped.
pub struct OtlpReceiver {
    address: SocketAddr,
    received: Arc<Received>,
}

impl OtlpReceiver {
    /// A receiver that keeps every request.
    pub fn start() -> OtlpReceiver {
        OtlpReceiver::listen(true)
    }

    /// A receiver that only counts requests (benchmarks).
    pub fn discarding() -> OtlpReceiver {
        OtlpReceiver::listen(false)
    }

    fn listen(keep: bool) -> OtlpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|error| panic!("cannot bind the OTLP receiver: {error}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("the OTLP receiver has no address: {error}"));
        let received = Arc::new(Received::default());
        let accepting = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let received = accepting.clone();
                std::thread::spawn(move || serve(stream, &received, keep));
            }
        });
        OtlpReceiver { address, received }
    }

    /// The base URL (`http://127.0.0.1:PORT`), as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The requests received so far (none for a discarding receiver).
    pub fn requests(&self) -> Vec<OtlpRequest> {
        self.received
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many requests were received so far.
    pub fn count(&self) -> u64 {
        self.received.count.load(Ordering::SeqCst)
    }

    /// Wait until `done` holds for the requests received, at most `timeout`; the requests.
    pub fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&[OtlpRequest]) -> bool,
    ) -> Vec<OtlpRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if done(&requests) || Instant::now() >= deadline {
                return requests;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.received.stopped.store(true, Ordering::SeqCst);
        // Wake the accepting thread so it sees the flag.
        let _ = TcpStream::connect(self.address);
    }
}

/// Serve one connection's requests (HTTP/1.1 with keep-alive, bodies with `Content-Length`).
fn serve(stream: TcpStream, received: &Received, keep: bool) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if keep {
            received
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(OtlpRequest {
                    path,
                    headers,
                    body,
                });
        }
        received.count.fetch_add(1, Ordering::SeqCst);
        let answer =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}
