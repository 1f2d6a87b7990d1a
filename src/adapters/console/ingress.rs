//! Reading the terminal: each line is a question or a command.

use super::egress::{ConsoleAdapter, ConsoleEvent};
use super::ids;
use crate::bridge::decide::{Command, Facts, Place, PlaceKind, Speaker};
use crate::bridge::event::{InboundEvent, InboundMessage, MessageContext, ReactionEvent};
use crate::bridge::ids::{MessageRef, ThreadKey, UserKey};
use crate::bridge::{Bridge, BridgeError, Disposition};
use std::future::Future;
use std::sync::Arc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::broadcast;

/// What one input line led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineOutcome {
    /// A question was answered (or explained with a notice): the final reply text.
    Replied {
        /// The messages that show the reply.
        messages: Vec<MessageRef>,
        /// The reply's text.
        text: String,
    },
    /// The question went to a person of the support team who handles the conversation
    /// (shown as "(sent to …)"); their reply arrives when they write it.
    Delivered {
        /// The person, when SiteAssist named them.
        agent: Option<String>,
    },
    /// The core ignored the line (e.g. a duplicate), and why.
    Ignored(crate::bridge::Ignored),
    /// A command ran; its output for the user.
    Command(String),
    /// Blank line: nothing to do.
    Nothing,
    /// `/quit`.
    Quit,
}

/// One person at the terminal, in one thread at a time.
pub struct ConsoleSession {
    bridge: Bridge,
    adapter: Arc<ConsoleAdapter>,
    events: broadcast::Receiver<ConsoleEvent>,
    user: UserKey,
    user_name: String,
    thread: ThreadKey,
    run: String,
    seq: u64,
    last_reply: Option<MessageRef>,
}

const HELP: &str =
    "Type a question. Commands: /new (new conversation), /thread <id> (reopen one), \
                    /react <emoji> (on the last answer, e.g. /react +1), /unreact <emoji>, /quit.";

impl ConsoleSession {
    /// A session for `user_name`, starting in thread `thread_name` (a new one if `None`).
    pub fn new(
        bridge: Bridge,
        adapter: Arc<ConsoleAdapter>,
        user_name: &str,
        thread_name: Option<&str>,
    ) -> Self {
        let events = adapter.subscribe();
        let name = thread_name.map(str::to_string).unwrap_or_else(ids::new_thread_name);
        Self {
            bridge,
            adapter,
            events,
            user: ids::user(user_name),
            user_name: user_name.to_string(),
            thread: ids::thread(&name),
            run: ids::new_run_id(),
            seq: 0,
            last_reply: None,
        }
    }

    /// The current thread's id, as `/thread` takes it.
    pub fn thread_name(&self) -> &str {
        ids::thread_name(&self.thread)
    }

    /// The current thread's key.
    pub fn thread(&self) -> &ThreadKey {
        &self.thread
    }

    /// Handles one input line and waits until its effect is complete: the reply is
    /// final, or the feedback was sent.
    pub async fn submit_line(&mut self, line: &str) -> Result<LineOutcome, BridgeError> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(LineOutcome::Nothing);
        }
        if let Some(command) = line.strip_prefix('/') {
            return self.command(command).await;
        }
        self.seq += 1;
        let question = ids::user_message(&self.thread, &self.run, self.seq);
        let message = InboundMessage {
            event_id: uuid::Uuid::new_v4().to_string(),
            message: question.clone(),
            thread: self.thread.clone(),
            channel: ids::channel(&self.thread),
            workspace: None,
            author: self.user.clone(),
            author_name: Some(self.user_name.clone()),
            // The terminal is a conversation between one person and the bot.
            facts: Facts {
                command: Command::parse(line),
                ..Facts::person(Place::new(PlaceKind::Dm, self.thread.as_str()))
            },
            text: line.to_string(),
            context: MessageContext::default(),
            attachments: Vec::new(),
        };
        let disposition = self.bridge.handle(InboundEvent::Message(Box::new(message))).await?;
        if disposition != Disposition::Queued {
            // A note the core posts instead of an answer (`!help`, a refusal) shows
            // before the next prompt; its events are this line's, not the next one's.
            self.bridge.barrier(&self.thread).await;
            while self.events.try_recv().is_ok() {}
        }
        match disposition {
            Disposition::Queued => {}
            Disposition::NewConversation | Disposition::Help | Disposition::Stopped => {
                return Ok(LineOutcome::Nothing)
            }
            Disposition::Ignored(why) => return Ok(LineOutcome::Ignored(why)),
        }
        loop {
            match self.events.recv().await {
                // The reply to this question; a person's message relayed meanwhile
                // is not (it shows, but the prompt still waits for the answer).
                Ok(ConsoleEvent::Finished { question: Some(q), messages, text, .. })
                    if q == question =>
                {
                    self.last_reply = messages.first().cloned();
                    return Ok(LineOutcome::Replied { messages, text });
                }
                Ok(ConsoleEvent::Delivered { question: q, agent }) if q == question => {
                    return Ok(LineOutcome::Delivered { agent });
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Ok(LineOutcome::Nothing),
            }
        }
    }

    async fn command(&mut self, command: &str) -> Result<LineOutcome, BridgeError> {
        let (name, arg) =
            command.split_once(' ').map(|(n, a)| (n, a.trim())).unwrap_or((command, ""));
        let text = match name {
            "quit" | "exit" => return Ok(LineOutcome::Quit),
            "new" => {
                self.thread = ids::thread(&ids::new_thread_name());
                self.last_reply = None;
                format!("New conversation: thread {}", self.thread_name())
            }
            "thread" if ids::valid_thread_name(arg) => {
                self.thread = ids::thread(arg);
                self.last_reply = None;
                let state = if self.bridge.has_conversation(&self.thread).await? {
                    "continuing its conversation"
                } else {
                    "new"
                };
                format!("Thread {arg} ({state})")
            }
            "thread" => "Usage: /thread <id> (letters, digits, - and _)".to_string(),
            "react" | "unreact" if !arg.is_empty() => {
                let Some(target) = self.last_reply.clone() else {
                    return Ok(LineOutcome::Command("No answer to react to yet.".into()));
                };
                let reaction = ReactionEvent {
                    event_id: uuid::Uuid::new_v4().to_string(),
                    message: target,
                    user: self.user.clone(),
                    user_kind: Speaker::Person,
                    emoji: arg.to_string(),
                    added: name == "react",
                };
                match self.bridge.handle(InboundEvent::Reaction(reaction)).await? {
                    Disposition::Queued => {
                        self.bridge.barrier(&self.thread).await;
                        format!("{} {arg}", if name == "react" { "Reacted" } else { "Removed" })
                    }
                    Disposition::Ignored(why) => format!("Reaction ignored ({why:?})."),
                    // Reactions are never commands.
                    Disposition::NewConversation | Disposition::Help | Disposition::Stopped => {
                        String::new()
                    }
                }
            }
            "help" => HELP.to_string(),
            _ => format!("Unknown command. {HELP}"),
        };
        Ok(LineOutcome::Command(text))
    }
}

/// Runs the console until `/quit`, end of input or `shutdown`.
pub async fn run(
    mut session: ConsoleSession,
    input: impl AsyncBufRead + Unpin,
    shutdown: impl Future<Output = ()>,
    interactive: bool,
) -> Result<(), BridgeError> {
    let adapter = Arc::clone(&session.adapter);
    if interactive {
        adapter.say(&format!("SiteAssist console, thread {}. {HELP}", session.thread_name()));
    }
    let mut lines = input.lines();
    tokio::pin!(shutdown);
    loop {
        if interactive {
            adapter.prompt("you> ");
        }
        let line = tokio::select! {
            line = lines.next_line() => line,
            () = &mut shutdown => return Ok(()),
        };
        let Ok(Some(line)) = line else { return Ok(()) };
        match session.submit_line(&line).await? {
            LineOutcome::Quit => return Ok(()),
            LineOutcome::Command(text) => adapter.say(&text),
            LineOutcome::Ignored(why) => adapter.say(&format!("(ignored: {why:?})")),
            LineOutcome::Replied { .. } | LineOutcome::Delivered { .. } | LineOutcome::Nothing => {}
        }
    }
}
