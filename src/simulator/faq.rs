//! The simulator's "AI": a small bundled FAQ matched by keywords.
//!
//! The answers are deliberately shaped like real assistant output (numbered and bulleted
//! lists, a fenced code block, links, bold) so that the bridge's Markdown conversion and
//! message splitting meet realistic text, and [`answer_for`] is a pure function so that a
//! test can compute the exact final text of any answer before asking.

/// One FAQ entry: the first entry with a matching keyword answers.
struct Entry {
    /// Lower-case words or phrases, matched on word boundaries (see [`normalize`]).
    keywords: &'static [&'static str],
    answer: &'static str,
    /// `(url, title)` of the sources the answer streams as `source-url` chunks.
    sources: &'static [(&'static str, Option<&'static str>)],
    /// `(buttonLabel, href)` of the `action_display-link` tool calls it streams.
    actions: &'static [(&'static str, &'static str)],
}

/// An answer that cites its documentation the way SiteAssist's answers do: a numbered
/// marker, a labelled reference and their definitions at the end (which no chat
/// platform renders; the bridge turns them into a sources line).
const SOURCED: &str = "Orders ship within **2 business days** [1], and you can return \
anything within 30 days (see [the returns policy][returns]).\n\n\
[1]: https://example.com/docs/shipping \"Shipping guide\"\n\
[returns]: https://example.com/docs/returns \"Returns policy\"";

/// Ordered: more specific topics come first, so "delete my API key" is an API-key
/// question rather than an account-deletion one.
const ENTRIES: &[Entry] = &[
    Entry {
        keywords: &["sources", "documentation", "docs", "cite", "citations"],
        answer: SOURCED,
        sources: &[
            ("https://example.com/docs/shipping", Some("Shipping guide")),
            ("https://example.com/docs/returns", Some("Returns policy")),
            // The same page again, as a search tool returns it twice.
            ("https://example.com/docs/shipping", Some("Shipping guide (copy)")),
        ],
        actions: &[("Track your order", "https://example.com/orders")],
    },
    Entry {
        keywords: &["multilingual", "emoji", "日本語"],
        answer: MULTILINGUAL,
        sources: &[],
        actions: &[],
    },
    Entry {
        // More than 1,500 words: the Slack assistant-thread test streams it (issue 13).
        keywords: &["handbook"],
        answer: HANDBOOK,
        sources: &[],
        actions: &[],
    },
    Entry {
        keywords: &["everything", "long answer", "full guide", "in detail", "overview"],
        answer: LONG_GUIDE,
        sources: &[],
        actions: &[],
    },
    Entry {
        keywords: &["password", "reset", "login", "log in", "sign in", "locked out"],
        answer: "No problem, resetting your password takes a minute:\n\n\
1. Open the [sign-in page](https://example.com/login) and click **Forgot password?**\n\
2. Enter the email address you signed up with.\n\
3. Open the email we send you and follow the link within 30 minutes.\n\
4. Choose a new password of at least 12 characters.\n\n\
If the email does not arrive, check your spam folder or ask me to connect you with support.",
        sources: &[],
        actions: &[],
    },
    Entry {
        keywords: &["api", "api key", "api keys", "token", "tokens", "curl"],
        answer: "You can create an API key under **Settings → API keys**. Keep it secret: \
anyone with the key can act on behalf of your workspace.\n\n\
Here is a quick way to check that a key works:\n\n\
```bash\n\
curl -s https://api.example.com/v1/me \\\n  -H \"Authorization: Bearer $EXAMPLE_API_KEY\"\n\
```\n\n\
If you think a key has leaked, revoke it on the same page and create a new one. \
The full reference is in the [API docs](https://example.com/docs/api).",
        sources: &[],
        actions: &[],
    },
    Entry {
        keywords: &["delete", "deletion", "remove my account", "close my account", "gdpr"],
        answer: "I'm sorry to see you go. To delete your account:\n\n\
1. Go to **Settings → Account**.\n\
2. Click **Delete account** at the bottom of the page.\n\
3. Confirm with your password.\n\n\
Deletion is **permanent** after 14 days; until then you can restore the account by signing in. \
We erase your personal data as described in our [privacy policy](https://example.com/privacy).",
        sources: &[],
        actions: &[],
    },
    Entry {
        keywords: &["refund", "refunds", "money back", "cancel", "cancellation", "chargeback"],
        answer: "We offer a **30-day money-back guarantee** on all paid plans. \
To request a refund, reply here with your invoice number or email billing@example.com, \
and we will process it within 5 business days. \
Refunds go back to the original payment method.",
        sources: &[],
        actions: &[],
    },
    Entry {
        keywords: &[
            "price",
            "prices",
            "pricing",
            "plan",
            "plans",
            "cost",
            "costs",
            "subscription",
            "upgrade",
        ],
        answer: "We have three plans:\n\n\
- **Free**: 1 project and 100 AI answers a month.\n\
- **Pro** ($29/month): 5 projects, 5,000 answers and email support.\n\
- **Business** ($99/month): unlimited projects, SSO and priority support.\n\n\
Annual billing saves 20%. See the [pricing page](https://example.com/pricing) for details.",
        sources: &[],
        actions: &[],
    },
    Entry {
        keywords: &[
            "shipping", "ship", "ships", "delivery", "deliver", "track", "tracking", "package",
            "order",
        ],
        answer: "Orders ship within 2 business days. Standard delivery takes 3-5 business days \
and express delivery 1-2. You can follow your package on the \
[tracking page](https://example.com/track) with the number from your confirmation email.",
        sources: &[],
        actions: &[],
    },
    Entry {
        keywords: &[
            "integration",
            "integrations",
            "integrate",
            "slack",
            "discord",
            "zapier",
            "webhook",
            "webhooks",
        ],
        answer: "We integrate with the tools you already use:\n\n\
- **Slack** and **Discord**: answer questions right in your channels.\n\
- **Zapier**: connect to 5,000+ apps without code.\n\
- **Webhooks**: get a POST request for every new conversation.\n\n\
Set them up under **Settings → Integrations**, or read the \
[integration guide](https://example.com/docs/integrations).",
        sources: &[],
        actions: &[],
    },
    Entry {
        keywords: &["contact", "support", "hours", "human", "agent", "phone", "email", "talk"],
        answer: "Our support team is available **Monday to Friday, 9:00-18:00 CET**. \
You can reach us at support@example.com or through the \
[contact form](https://example.com/contact). Outside those hours I'm happy to help right here.",
        sources: &[],
        actions: &[],
    },
];

/// The answer when no keyword matches.
pub const FALLBACK_ANSWER: &str = "Thanks for your question! I don't have a specific answer \
for that yet. I can help with passwords, pricing and plans, refunds, shipping, API keys, \
account deletion, integrations and how to reach our support team. \
Could you rephrase your question, or ask about one of those topics?";

/// The deterministic answer the simulator gives to `question`.
///
/// Matching is case-insensitive and on word boundaries, so "how long does shipping take"
/// is a shipping question (the long answer needs "everything", "long answer", "full
/// guide", "in detail" or "overview").
pub fn answer_for(question: &str) -> String {
    entry(question).map_or(FALLBACK_ANSWER, |e| e.answer).to_string()
}

/// The sources the simulator streams with its answer to `question`, as `(url, title)`,
/// in order (duplicates included: a client must de-duplicate).
pub fn sources_for(question: &str) -> Vec<(String, Option<String>)> {
    let sources = entry(question).map_or(&[][..], |e| e.sources);
    sources.iter().map(|(url, title)| (url.to_string(), title.map(str::to_string))).collect()
}

/// The link buttons the simulator offers with its answer to `question`, as
/// `(buttonLabel, href)` outputs of the `action_display-link` tool.
pub fn actions_for(question: &str) -> Vec<(String, String)> {
    let actions = entry(question).map_or(&[][..], |e| e.actions);
    actions.iter().map(|(label, href)| (label.to_string(), href.to_string())).collect()
}

fn entry(question: &str) -> Option<&'static Entry> {
    let text = normalize(question);
    ENTRIES.iter().find(|e| e.keywords.iter().any(|k| text.contains(&format!(" {k} "))))
}

/// Lower-cases and turns every non-alphanumeric character into a space, padded with
/// spaces on both ends, so that `" {keyword} "` is a word-boundary match.
fn normalize(question: &str) -> String {
    let mut out = String::with_capacity(question.len() + 2);
    out.push(' ');
    let mut last_space = true;
    for c in question.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    if !last_space {
        out.push(' ');
    }
    out
}

/// About 5,000 characters: long enough to overflow one Slack or Discord message, with a
/// fenced code block in the middle that a naive splitter would cut in half.
const LONG_GUIDE: &str = "Here is the complete overview of getting started, from your first \
login to running in production. It is long on purpose, so take your time and come back to \
any section whenever you need it.\n\n\
**1. Setting up your workspace.** After you sign up, you land in an empty workspace. Give it \
a name that your team will recognise, upload a logo, and pick the default language for your \
assistant. The language matters more than it seems: it decides how the assistant greets \
visitors, how it formats dates and numbers, and which language it falls back to when a \
visitor writes in a language it does not know. You can change all of this later under \
Settings, and nothing you choose here is permanent.\n\n\
**2. Inviting your team.** Open Settings, then Members, and invite colleagues by email. \
There are three roles. Owners manage billing and can delete the workspace. Admins manage \
content, integrations and members. Agents answer conversations that the assistant hands \
over to a human. Invitations expire after seven days, and you can resend them at any time. \
We recommend at least two owners, so that nobody gets locked out when someone is on holiday.\n\n\
**3. Teaching the assistant.** The assistant answers from the content you give it. Add your \
website and it crawls the public pages every night; add documents such as PDF manuals or \
Markdown files; or write question-and-answer pairs by hand for the questions that matter \
most. Hand-written answers always win over crawled content, which makes them the right tool \
for prices, policies and anything else that must be exactly right. After each change the \
assistant needs a few minutes to learn the new content.\n\n\
**4. Checking your setup from the command line.** Many teams like to script their setup. \
The following commands create a key, add a source and ask a first question, so you can see \
the whole loop working end to end:\n\n\
```bash\n\
export EXAMPLE_API_KEY=\"sk_live_replace_me\"\n\
curl -s -X POST https://api.example.com/v1/sources \\\n  \
-H \"Authorization: Bearer $EXAMPLE_API_KEY\" \\\n  \
-H \"Content-Type: application/json\" \\\n  \
-d '{\"type\": \"website\", \"url\": \"https://example.com\"}'\n\
curl -s https://api.example.com/v1/sources \\\n  \
-H \"Authorization: Bearer $EXAMPLE_API_KEY\" | jq '.data[].status'\n\
```\n\n\
When every source reports the status ready, the assistant has learned your content and you \
can start asking questions.\n\n\
**5. Putting the assistant where your visitors are.** Copy the widget snippet from Settings \
and paste it before the closing body tag of your website. The widget loads asynchronously, so \
it never slows down your pages. If you prefer to talk to your customers where they already \
are, connect Slack or Discord under Integrations: every thread becomes a conversation, and \
the assistant answers right there. Reactions on an answer are recorded as feedback, which \
brings us to the next step.\n\n\
**6. Learning from feedback.** Every answer can be rated with a thumbs up or a thumbs down. \
The Insights page lists the questions with the most negative ratings, the questions the \
assistant could not answer at all, and the topics your visitors ask about most. Review it \
once a week: in most workspaces, a handful of new hand-written answers fixes the majority of \
the bad ratings. You can also export all ratings as a CSV file for your own analysis.\n\n\
**7. Handing over to humans.** Some conversations need a person. Turn on human handover, \
choose the hours when agents are available, and decide which topics should always go to a \
human, for example refunds above a certain amount. When a conversation is handed over, the \
assistant stops answering and an agent takes it from there in the inbox. Visitors see the \
agent's name and picture, so they always know who they are talking to.\n\n\
**8. Going to production.** Before launch, check three things. First, restrict your \
publishable key to your own domains, so that nobody can embed your assistant elsewhere. \
Second, set up a monthly budget alert under Billing, so that a sudden spike in traffic does \
not surprise you. Third, write a short welcome message that tells visitors what the assistant \
can and cannot help with; clear expectations lead to better ratings.\n\n\
**9. Keeping it safe over time.** Review your members every quarter and remove people \
who have left the team. Rotate private API keys at least once a year, and immediately when \
someone who knew them leaves. Keep the assistant's content fresh: an outdated answer about \
prices or policies does more harm than no answer at all, so give every hand-written answer \
an owner who checks it when the underlying policy changes. Finally, turn on the weekly \
summary email, which tells you in two minutes how many conversations the assistant handled, \
how many went to a human and how the ratings moved, so that problems surface before your \
customers start to notice them.\n\n\
That is everything you need. If any step is unclear, ask me about it directly, or read the \
[getting started guide](https://example.com/docs/getting-started) for screenshots of every \
screen.";

/// About 6,000 characters of Japanese and Chinese with emoji (ZWJ sequences, flags, skin
/// tones, keycaps) and a code block of about 4,600 UTF-8 bytes: three or four times more
/// bytes than characters, so a platform counting bytes (Slack's `msg_too_long`) needs
/// more messages than the characters say, and the code block cannot fit in one.
const MULTILINGUAL: &str = include_str!("faq/multilingual.md");

/// The answer to "handbook": a long Markdown text of more than 1,500 words.
const HANDBOOK: &str = include_str!("faq/handbook.md");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_case_insensitively_on_word_boundaries() {
        assert!(answer_for("How do I RESET my Password?").contains("Forgot password?"));
        assert!(answer_for("how long does shipping take").starts_with("Orders ship"));
        assert!(answer_for("Tell me everything!").starts_with("Here is the complete overview"));
        // "plant" contains "plan" but is not the word "plan".
        assert_eq!(answer_for("I like my plant"), FALLBACK_ANSWER);
        assert_eq!(answer_for(""), FALLBACK_ANSWER);
    }

    #[test]
    fn specific_topics_win_over_generic_ones() {
        assert!(answer_for("how do I delete an API key?").contains("```bash"));
        assert!(answer_for("does it support slack?").contains("**Slack**"));
    }

    #[test]
    fn answers_carry_the_markdown_the_bridge_must_handle() {
        let all: Vec<String> = ["password", "pricing", "api key", "everything"]
            .iter()
            .map(|q| answer_for(q))
            .collect();
        let joined = all.join("\n");
        for needle in ["\n1. ", "\n- ", "```bash\n", "](https://example.com/", "**"] {
            assert!(joined.contains(needle), "missing {needle:?}");
        }
    }

    #[test]
    fn the_multilingual_answer_is_six_thousand_characters_of_multi_byte_text() {
        let answer = answer_for("an answer with emoji, please");
        assert_eq!(answer_for("日本語 で"), answer);
        let n = answer.chars().count();
        assert!((6_000..=6_200).contains(&n), "{n}");
        assert!(answer.len() > 2 * n, "{} bytes", answer.len());
        assert!(answer.contains("👩\u{200D}💻") && answer.contains("🇯🇵"));
        assert_eq!(answer.matches("```").count(), 2);
    }

    #[test]
    fn the_long_answer_is_about_five_thousand_characters_with_a_code_block_inside() {
        let long = answer_for("give me the long answer");
        let n = long.chars().count();
        assert!((4500..=5600).contains(&n), "{n}");
        let fence = long.find("```").unwrap();
        assert!(fence > 1000 && fence < n - 1000, "code block should be in the middle");
        assert_eq!(long.matches("```").count(), 2);
    }
}
