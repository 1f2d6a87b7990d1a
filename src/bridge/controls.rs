//! The buttons under a bot reply, and what a press on one asks for.
//!
//! The core says which buttons a message should carry ([`Controls`]); each adapter
//! draws them in its platform's kit (Discord message components, Slack Block Kit) or
//! not at all (the console prints link buttons as lines). A streaming reply carries
//! Stop; a finished answer carries like / dislike and the answer's link buttons. Only
//! the last message of a reply carries them, so a long answer shows them once, at its
//! end.
//!
//! A press reaches the core as a [`ButtonPress`](super::event::ButtonPress) naming a
//! [`ButtonAction`]; the ids below are what the adapters put on the buttons and read
//! back, the same on every platform, so a press on a message of an older version of
//! the bridge still means the same.

use crate::siteassist::action::LinkAction;

/// At most this many link buttons under an answer (Discord allows five buttons in a
/// row; more would crowd the answer on either platform).
pub const MAX_LINKS: usize = 5;

/// The buttons one message carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Controls {
    /// A Stop button: the answer is streaming and can be cut short.
    pub stop: bool,
    /// Like / dislike buttons: the message ends a finished answer that takes feedback.
    pub feedback: bool,
    /// Link buttons the answer offers, at most [`MAX_LINKS`].
    pub links: Vec<LinkAction>,
}

impl Controls {
    /// No buttons.
    pub const NONE: Controls = Controls { stop: false, feedback: false, links: Vec::new() };

    /// [`Self::NONE`] as a `'static` reference, for calls that outlive a temporary.
    pub fn none() -> &'static Controls {
        static NONE: Controls = Controls::NONE;
        &NONE
    }

    /// The buttons of a reply still streaming.
    pub fn streaming() -> Self {
        Self { stop: true, ..Self::NONE }
    }

    /// The buttons of a finished answer: its first [`MAX_LINKS`] links, and feedback
    /// when SiteAssist's message for it is known (feedback needs its id).
    pub fn answered(links: &[LinkAction], feedback: bool) -> Self {
        let links = links.iter().take(MAX_LINKS).cloned().collect();
        Self { stop: false, feedback, links }
    }

    /// Whether there is no button at all.
    pub fn is_empty(&self) -> bool {
        !self.stop && !self.feedback && self.links.is_empty()
    }
}

/// What a button press asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ButtonAction {
    /// 👍 on a finished answer.
    Like,
    /// 👎 on a finished answer.
    Dislike,
    /// Stop the answer streaming into this message.
    Stop,
}

impl ButtonAction {
    /// The id adapters give the button (Discord `custom_id`, Slack `action_id`); at
    /// most 100 characters on Discord and 255 on Slack.
    pub fn id(self) -> &'static str {
        match self {
            ButtonAction::Like => "siteassist:like",
            ButtonAction::Dislike => "siteassist:dislike",
            ButtonAction::Stop => "siteassist:stop",
        }
    }

    /// The action a button id names; `None` for an id the bridge did not make.
    pub fn from_id(id: &str) -> Option<Self> {
        [ButtonAction::Like, ButtonAction::Dislike, ButtonAction::Stop]
            .into_iter()
            .find(|a| a.id() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_foreign_ids_mean_nothing() {
        for action in [ButtonAction::Like, ButtonAction::Dislike, ButtonAction::Stop] {
            assert_eq!(ButtonAction::from_id(action.id()), Some(action));
            assert!(action.id().len() <= 100);
        }
        for id in ["", "stop", "siteassist:", "siteassist:stop ", "SITEASSIST:STOP"] {
            assert_eq!(ButtonAction::from_id(id), None, "{id:?}");
        }
    }

    #[test]
    fn an_answer_offers_at_most_five_links() {
        let links: Vec<LinkAction> = (0..7)
            .map(|i| LinkAction { label: format!("L{i}"), url: format!("https://x.io/{i}") })
            .collect();
        let controls = Controls::answered(&links, true);
        assert_eq!(controls.links, links[..MAX_LINKS]);
        assert!(controls.feedback && !controls.stop);
        assert!(Controls::NONE.is_empty() && !Controls::streaming().is_empty());
        assert!(!Controls::answered(&[], false).feedback);
        assert!(Controls::answered(&[], false).is_empty());
    }
}
