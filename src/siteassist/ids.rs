//! Identifiers and small values of the SiteAssist API shared with the store and the core.

use crate::newtype::string_id;
use serde::{Deserialize, Serialize};

string_id!(
    /// A SiteAssist conversation id (a UUID).
    ConversationId
);
string_id!(
    /// A SiteAssist message id (a UUID), the target of feedback.
    MessageId
);
string_id!(
    /// The visitor identifier we send as `saVid` (1 to 100 characters). The same `saVid`
    /// always maps to the same SiteAssist visitor, so it is derived stably from the
    /// platform user; see [`SaVid::for_user`].
    SaVid
);

impl SaVid {
    /// Derives the `saVid` for a platform user key such as `slack:T123:U456`.
    ///
    /// Short keys are kept readable (`sab-slack-T123-U456`, so the SiteAssist dashboard
    /// hints where a visitor comes from); keys that would not fit in 100 characters, or
    /// that contain characters outside `[A-Za-z0-9._-]`, become `sab-` plus a SHA-256 hex
    /// digest of the key. Either way the mapping is a pure function of the key.
    pub fn for_user(user_key: &str) -> Self {
        use sha2::{Digest, Sha256};
        let readable: String = user_key.replace(':', "-");
        let fits = readable.len() + 4 <= 100
            && !readable.is_empty()
            && readable.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if fits {
            Self(format!("sab-{readable}"))
        } else {
            let digest = Sha256::digest(user_key.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            Self(format!("sab-{hex}"))
        }
    }
}

/// Feedback on an assistant message. "No feedback" is `Option::<Feedback>::None`, which
/// the API spells `null`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feedback {
    /// Thumbs up.
    Like,
    /// Thumbs down.
    Dislike,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savid_is_stable_readable_and_bounded() {
        assert_eq!(SaVid::for_user("slack:T1:U2").as_str(), "sab-slack-T1-U2");
        assert_eq!(SaVid::for_user("slack:T1:U2"), SaVid::for_user("slack:T1:U2"));
        assert_ne!(SaVid::for_user("slack:T1:U2"), SaVid::for_user("slack:T1:U3"));
        let long = "x".repeat(200);
        let v = SaVid::for_user(&long);
        assert!(v.as_str().len() <= 100, "{}", v.as_str().len());
        assert_eq!(v, SaVid::for_user(&long));
        let odd = SaVid::for_user("console:ünïcode user");
        assert!(odd.as_str().len() <= 100 && odd.as_str().is_ascii());
    }

    #[test]
    fn feedback_serializes_as_the_api_spells_it() {
        assert_eq!(serde_json::to_string(&Feedback::Like).unwrap(), "\"like\"");
        assert_eq!(serde_json::to_string(&None::<Feedback>).unwrap(), "null");
    }
}
