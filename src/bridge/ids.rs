//! Opaque identifiers minted by adapters.
//!
//! The core never looks inside these: an adapter builds them from platform ids
//! (for example `slack:T1:C2:1700000000.000100`) and is the only code that parses them
//! back. They are persisted in the store, so their text form is a promise: an adapter
//! must keep minting the same string for the same platform object across versions.

use crate::newtype::string_id;

string_id!(
    /// One platform thread, which is one SiteAssist conversation.
    ThreadKey
);
string_id!(
    /// One platform message (a user's question, or one part of a bot reply).
    MessageRef
);
string_id!(
    /// A channel: replies in the same channel share one edit budget.
    ChannelKey
);
string_id!(
    /// A workspace or server: some platforms (Slack) also budget edits per workspace.
    WorkspaceKey
);
string_id!(
    /// One platform user, unique across workspaces of that platform (e.g. `slack:T1:U2`).
    /// The SiteAssist visitor id is derived from it.
    UserKey
);
