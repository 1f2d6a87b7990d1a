//! The terminal as a chat platform: the default with no credentials, and the easiest
//! way to try an assistant. One console session is one thread (`/new` starts another,
//! `/thread <id>` reopens one, since the sled store remembers them).
//!
//! In a terminal the reply is rewritten in place as it streams; with stdin not a
//! terminal, each input line is one user message and each final reply is printed whole,
//! so scripts and tests can drive it.

mod egress;
mod ids;
mod ingress;

pub use egress::{ConsoleAdapter, ConsoleEvent, OutputMode};
pub use ingress::{run, ConsoleSession, LineOutcome};
