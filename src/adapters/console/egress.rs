//! Showing replies in the terminal.

use super::ids;
use crate::bridge::adapter::{AdapterError, Budget, Capabilities, ChatAdapter};
use crate::bridge::controls::Controls;
use crate::bridge::ids::{MessageRef, ThreadKey};
use async_trait::async_trait;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::broadcast;

/// How replies are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// A terminal: the reply is redrawn in place as it grows.
    Live,
    /// A pipe or file: each final reply is printed whole, followed by a blank line.
    Final,
    /// Nothing is written (tests read [`ConsoleEvent`]s instead).
    Silent,
}

/// What the console adapter did, for observers (the session, tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsoleEvent {
    /// A bot message was posted.
    Posted {
        /// Its id.
        message: MessageRef,
        /// Its text.
        text: String,
    },
    /// A bot message was edited.
    Edited {
        /// Its id.
        message: MessageRef,
        /// Its new text.
        text: String,
    },
    /// A question was passed to a person of the support team (no answer follows).
    Delivered {
        /// The question.
        question: MessageRef,
        /// The person, when SiteAssist named them.
        agent: Option<String>,
    },
    /// A reply is final.
    Finished {
        /// The thread.
        thread: ThreadKey,
        /// The question it answers (`None`: a note nobody asked for; a person's
        /// message relayed from SiteAssist names that message instead).
        question: Option<MessageRef>,
        /// The messages that show it, in order.
        messages: Vec<MessageRef>,
        /// Their texts joined by newlines.
        text: String,
    },
}

/// The console's [`ChatAdapter`].
pub struct ConsoleAdapter {
    caps: Capabilities,
    mode: OutputMode,
    out: Mutex<Box<dyn Write + Send>>,
    state: Mutex<Screen>,
    run: String,
    seq: AtomicU64,
    events: broadcast::Sender<ConsoleEvent>,
}

#[derive(Default)]
struct Screen {
    texts: HashMap<MessageRef, String>,
    /// The messages of the reply being drawn live, and how many terminal rows it took.
    live: Vec<MessageRef>,
    live_rows: usize,
}

impl ConsoleAdapter {
    /// A console writing to `out`. `edit_interval` is the shortest time between redraws.
    pub fn new(mode: OutputMode, out: Box<dyn Write + Send>) -> Self {
        let (events, _) = broadcast::channel(1024);
        Self {
            caps: Capabilities {
                // A terminal has no length limit, but splitting long answers keeps each
                // redraw within one screen on most terminals.
                max_message_chars: 4000,
                // A terminal has no byte limit.
                max_message_bytes: None,
                min_edit_interval: Duration::from_millis(100),
                channel_budget: Budget { actions: 50, window: Duration::from_secs(1) },
                workspace_budget: None,
                // The placeholder is the console's only "thinking" sign.
                typing_every: None,
            },
            mode,
            out: Mutex::new(out),
            state: Mutex::new(Screen::default()),
            run: ids::new_run_id(),
            seq: AtomicU64::new(0),
            events,
        }
    }

    /// Everything the adapter does from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ConsoleEvent> {
        self.events.subscribe()
    }

    /// Writes a line of the console's own (banner, command output).
    pub fn say(&self, text: &str) {
        if self.mode != OutputMode::Silent {
            let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }

    /// Writes a prompt without a line break.
    pub fn prompt(&self, text: &str) {
        if self.mode == OutputMode::Live {
            let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = write!(out, "{text}");
            let _ = out.flush();
        }
    }

    fn redraw(&self, screen: &mut Screen) {
        if self.mode != OutputMode::Live {
            return;
        }
        let text: Vec<&str> =
            screen.live.iter().filter_map(|m| screen.texts.get(m).map(String::as_str)).collect();
        let text = text.join("\n");
        let width = terminal_size::terminal_size().map(|(w, _)| w.0 as usize).unwrap_or(80).max(10);
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if screen.live_rows > 1 {
            let _ = write!(out, "\x1b[{}F", screen.live_rows - 1);
        }
        let _ = write!(out, "\r\x1b[J{text}");
        let _ = out.flush();
        screen.live_rows = rows(&text, width);
    }
}

/// Terminal rows `text` takes at `width` columns.
fn rows(text: &str, width: usize) -> usize {
    text.split('\n').map(|line| line.chars().count().div_ceil(width).max(1)).sum()
}

/// `text` with the answer's link buttons as plain lines under it (a terminal has no
/// buttons; Stop and feedback are the `/react` command's and Ctrl-C's business).
fn with_links(text: &str, controls: &Controls) -> String {
    let mut out = text.to_string();
    for link in &controls.links {
        out.push_str(&format!("\n→ {}: {}", link.label, link.url));
    }
    out
}

#[async_trait]
impl ChatAdapter for ConsoleAdapter {
    fn name(&self) -> &'static str {
        "console"
    }

    fn title(&self) -> &'static str {
        "Console"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn render(&self, markdown: &str) -> String {
        // Terminals show Markdown fine as written.
        markdown.to_string()
    }

    async fn post(
        &self,
        thread: &ThreadKey,
        text: &str,
        controls: &Controls,
    ) -> Result<MessageRef, AdapterError> {
        let text = &with_links(text, controls);
        let message = ids::bot_message(thread, &self.run, self.seq.fetch_add(1, Ordering::SeqCst));
        {
            let mut screen = self.state.lock().unwrap_or_else(|p| p.into_inner());
            screen.texts.insert(message.clone(), text.to_string());
            screen.live.push(message.clone());
            self.redraw(&mut screen);
        }
        let _ =
            self.events.send(ConsoleEvent::Posted { message: message.clone(), text: text.into() });
        Ok(message)
    }

    async fn edit(
        &self,
        message: &MessageRef,
        text: &str,
        controls: &Controls,
    ) -> Result<(), AdapterError> {
        let text = &with_links(text, controls);
        {
            let mut screen = self.state.lock().unwrap_or_else(|p| p.into_inner());
            match screen.texts.get_mut(message) {
                Some(t) => *t = text.to_string(),
                None => {
                    return Err(AdapterError::Permanent(format!("no console message {message}")))
                }
            }
            if screen.live.contains(message) {
                self.redraw(&mut screen);
            }
        }
        let _ =
            self.events.send(ConsoleEvent::Edited { message: message.clone(), text: text.into() });
        Ok(())
    }

    async fn mark_delivered(
        &self,
        question: &MessageRef,
        agent: Option<&str>,
    ) -> Result<(), AdapterError> {
        self.say(&format!("(sent to {})", agent.unwrap_or("the support team")));
        let agent = agent.map(str::to_string);
        let _ = self.events.send(ConsoleEvent::Delivered { question: question.clone(), agent });
        Ok(())
    }

    async fn reply_finished(
        &self,
        thread: &ThreadKey,
        question: Option<&MessageRef>,
        messages: &[MessageRef],
    ) {
        let text = {
            let mut screen = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let text: Vec<String> =
                messages.iter().filter_map(|m| screen.texts.get(m).cloned()).collect();
            let text = text.join("\n");
            screen.live.clear();
            screen.live_rows = 0;
            // Finished replies are never edited again; keep memory flat in long sessions.
            for m in messages {
                screen.texts.remove(m);
            }
            text
        };
        match self.mode {
            OutputMode::Live => self.say("\n"),
            OutputMode::Final => self.say(&format!("{text}\n")),
            OutputMode::Silent => {}
        }
        let _ = self.events.send(ConsoleEvent::Finished {
            thread: thread.clone(),
            question: question.cloned(),
            messages: messages.to_vec(),
            text,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::rows;

    #[test]
    fn rows_count_wrapped_lines() {
        assert_eq!(rows("", 80), 1);
        assert_eq!(rows("abc", 80), 1);
        assert_eq!(rows(&"x".repeat(81), 80), 2);
        assert_eq!(rows("a\nb\n", 80), 3);
    }
}
