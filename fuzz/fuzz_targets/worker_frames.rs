//! Bytes from a worker, in arbitrary pieces, through the gateway's frame decoder and message
//! decoder. Must never panic, and the decoder's buffer must stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_worker_protocol::{FrameDecoder, decode_worker_message, FRAME_HEADER_BYTES};

/// A small cap so oversized frames are exercised without large allocations.
const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses how the stream is cut into reads.
    let Some((&piece, bytes)) = data.split_first() else { return };
    let piece = usize::from(piece).max(1);
    let mut decoder = FrameDecoder::new(LIMIT);
    for chunk in bytes.chunks(piece) {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(body)) => {
                    assert!(body.len() <= LIMIT);
                    let _ = decode_worker_message(&body);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(decoder.pending_bytes() <= FRAME_HEADER_BYTES + LIMIT + piece);
    }
});
