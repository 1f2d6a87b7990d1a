//! Opaque identifiers minted by adapters.
//!
//! The core never looks inside these: an adapter builds them from platform ids
//! (for example `slack:T1:C2:1700000000.000100`) and is the only code that parses them
//! back. They are persisted in the store, so their text form is a promise: an adapter
//! must keep minting the same string for the same platform object across versions.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an adapter-minted id.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id's text, for storage keys and for the adapter that minted it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(
    /// One platform thread, which is one SiteAssist conversation.
    ThreadKey
);
opaque_id!(
    /// One platform message (a user's question, or one part of a bot reply).
    MessageRef
);
opaque_id!(
    /// A channel: replies in the same channel share one edit budget.
    ChannelKey
);
opaque_id!(
    /// A workspace or server: some platforms (Slack) also budget edits per workspace.
    WorkspaceKey
);
opaque_id!(
    /// One platform user, unique across workspaces of that platform (e.g. `slack:T1:U2`).
    /// The SiteAssist visitor id is derived from it.
    UserKey
);
