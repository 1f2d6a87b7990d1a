//! Console ids. Only this module builds or reads their text form.

use crate::bridge::ids::{ChannelKey, MessageRef, ThreadKey, UserKey};

/// The thread key of console thread `name`.
pub(super) fn thread(name: &str) -> ThreadKey {
    ThreadKey::new(format!("console:{name}"))
}

/// The console thread's short name back from its key.
pub(super) fn thread_name(thread: &ThreadKey) -> &str {
    thread.as_str().strip_prefix("console:").unwrap_or(thread.as_str())
}

/// The channel (edit budget scope): each console thread is its own.
pub(super) fn channel(thread: &ThreadKey) -> ChannelKey {
    ChannelKey::new(thread.as_str())
}

/// The console user.
pub(super) fn user(name: &str) -> UserKey {
    UserKey::new(format!("console:{name}"))
}

/// A user's message: thread, the run that saw it, and a sequence number. The run id is
/// needed because claims and reply links outlive the process: a restarted console
/// counting from 1 again must not look like a redelivery of the last run's message 1.
pub(super) fn user_message(thread: &ThreadKey, run: &str, seq: u64) -> MessageRef {
    MessageRef::new(format!("{thread}:{run}:u{seq}"))
}

/// A bot message: thread, run and sequence number (see [`user_message`]).
pub(super) fn bot_message(thread: &ThreadKey, run: &str, seq: u64) -> MessageRef {
    MessageRef::new(format!("{thread}:{run}:b{seq}"))
}

/// A new id for this run of the console.
pub(super) fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// A new random thread name, short enough to type back with `/thread`.
pub(super) fn new_thread_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// Whether a name typed after `/thread` is acceptable.
pub(super) fn valid_thread_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
