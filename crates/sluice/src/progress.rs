//! Progress lines for long work on a terminal: one line on stderr, redrawn in place with a
//! spinner and the time so far, erased when the work is done. On a pipe or a file (and with
//! `TERM=dumb`) nothing is drawn, so logs and scripts see only the ordinary lines.
//!
//! Written here rather than with a progress-bar crate: it is one line of text and a timer, and
//! the standard library says whether stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

const SPINNER: [char; 4] = ['|', '/', '-', '\\'];
const REDRAW: Duration = Duration::from_millis(120);

struct State {
    message: String,
    started: Instant,
    frame: usize,
    drawn: bool,
    done: bool,
}

/// A progress line; see the module docs. Cheap to clone (clones draw the same line).
#[derive(Clone)]
pub struct Progress {
    state: Option<Arc<Mutex<State>>>,
}

/// Whether progress lines are drawn: stderr is a terminal that can erase a line.
fn terminal() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|term| term != "dumb")
}

fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.parse::<usize>().ok())
        .filter(|columns| *columns > 20)
        .unwrap_or(80)
}

impl Progress {
    /// A line saying `message`, redrawn until [`Progress::finish`] (or the last clone is
    /// dropped). Needs a tokio runtime.
    pub fn start(message: impl Into<String>) -> Progress {
        if !terminal() {
            return Progress { state: None };
        }
        let state = Arc::new(Mutex::new(State {
            message: message.into(),
            started: Instant::now(),
            frame: 0,
            drawn: false,
            done: false,
        }));
        let ticking = Arc::downgrade(&state);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(REDRAW);
            loop {
                interval.tick().await;
                let Some(state) = ticking.upgrade() else {
                    return;
                };
                let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                if state.done {
                    return;
                }
                state.frame += 1;
                draw(&mut state);
            }
        });
        Progress { state: Some(state) }
    }

    /// Say `message` from now on.
    pub fn set(&self, message: impl Into<String>) {
        if let Some(state) = &self.state {
            let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
            state.message = message.into();
            draw(&mut state);
        }
    }

    /// Print `line` on stderr above the progress line (or just print it without one).
    pub fn println(&self, line: &str) {
        match &self.state {
            None => eprintln!("{line}"),
            Some(state) => {
                let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                let mut stderr = std::io::stderr().lock();
                let _ = write!(stderr, "\r\x1b[2K{line}\n");
                drop(stderr);
                if !state.done {
                    draw(&mut state);
                }
            }
        }
    }

    /// Erase the line; nothing is drawn after this.
    pub fn finish(&self) {
        if let Some(state) = &self.state {
            let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
            state.done = true;
            if state.drawn {
                let mut stderr = std::io::stderr().lock();
                let _ = write!(stderr, "\r\x1b[2K");
                let _ = stderr.flush();
                state.drawn = false;
            }
        }
    }
}

fn draw(state: &mut State) {
    if state.done {
        return;
    }
    let elapsed = state.started.elapsed().as_secs_f64();
    let spinner = SPINNER[state.frame % SPINNER.len()];
    let mut line = format!("{spinner} {} ({elapsed:.1} s)", state.message);
    let limit = width().saturating_sub(1);
    if let Some((cut, _)) = line.char_indices().nth(limit) {
        line.truncate(cut);
    }
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "\r\x1b[2K{line}");
    let _ = stderr.flush();
    state.drawn = true;
}
