//! What the Discord adapter reads from a message and writes about it, in pure
//! functions: the question without the bot's mentions, a forum post's question, thread
//! names, and the link shown on the SiteAssist dashboard. Whether the bot
//! answers is decided by the core ([`crate::bridge::decide`]) from the facts the
//! ingress reports.

/// Longest thread name Discord accepts.
pub const MAX_THREAD_NAME_CHARS: usize = 100;

/// The message text without the bot's mentions (`<@id>`, `<@!id>` and the bot's roles
/// `<@&role>`), trimmed.
pub(crate) fn strip_bot_mentions(content: &str, bot: u64, bot_roles: &[u64]) -> String {
    let mut text = content.replace(&format!("<@{bot}>"), "").replace(&format!("<@!{bot}>"), "");
    for role in bot_roles {
        text = text.replace(&format!("<@&{role}>"), "");
    }
    // Spacing elsewhere is the user's (indented code, say), so only the ends are trimmed.
    text.trim().to_string()
}

/// The question of a forum post: its title, then its first message (a post's title is
/// often the whole question).
pub(crate) fn forum_question(title: &str, content: &str) -> String {
    match (title.trim(), content.trim()) {
        ("", c) => c.to_string(),
        (t, "") => t.to_string(),
        (t, c) => format!("{t}\n\n{c}"),
    }
}

/// A thread name from the question: one line, at most [`MAX_THREAD_NAME_CHARS`]
/// characters, cut at a word with an ellipsis; `Question from {author}` when the
/// question has no text.
pub(crate) fn thread_name(question: &str, author: &str) -> String {
    let one_line = question.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = if one_line.is_empty() { format!("Question from {author}") } else { one_line };
    if name.chars().count() <= MAX_THREAD_NAME_CHARS {
        return name;
    }
    let head: String = name.chars().take(MAX_THREAD_NAME_CHARS - 1).collect();
    let cut = match head.rfind(' ') {
        Some(i) if i >= MAX_THREAD_NAME_CHARS / 2 => head[..i].trim_end().to_string(),
        _ => head,
    };
    format!("{cut}…")
}

/// `text` as people see it in Discord: user mentions as `@name` (`user` knows the
/// names of the users the message mentions), channels as `#name` (`channel`), roles as
/// `@role`, custom emoji as `:name:`; unknown ones get a plain word rather than raw
/// markup. For thread names, which Discord shows as plain text.
pub(crate) fn readable(
    text: &str,
    user: impl Fn(u64) -> Option<String>,
    channel: impl Fn(u64) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let Some(close) = tail.find('>') else {
            out.push_str(tail);
            return out;
        };
        let inner = &tail[1..close];
        let id = |s: &str| s.parse::<u64>().ok().filter(|_| !s.is_empty());
        let shown = if inner.strip_prefix("@&").and_then(id).is_some() {
            Some("@role".to_string())
        } else if let Some(n) =
            inner.strip_prefix("@!").or_else(|| inner.strip_prefix('@')).and_then(id)
        {
            Some(format!("@{}", user(n).unwrap_or_else(|| "user".into())))
        } else if let Some(n) = inner.strip_prefix('#').and_then(id) {
            Some(format!("#{}", channel(n).unwrap_or_else(|| "channel".into())))
        } else {
            let emoji = inner.strip_prefix("a:").or_else(|| inner.strip_prefix(':'));
            emoji
                .and_then(|e| e.split_once(':'))
                .filter(|(name, n)| !name.is_empty() && id(n).is_some())
                .map(|(name, _)| format!(":{name}:"))
        };
        match shown {
            Some(shown) => {
                out.push_str(&shown);
                rest = &tail[close + 1..];
            }
            None => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The link that opens a message in Discord.
pub(crate) fn message_link(guild: Option<u64>, channel: u64, message: u64) -> String {
    let guild = guild.map_or_else(|| "@me".to_string(), |g| g.to_string());
    format!("https://discord.com/channels/{guild}/{channel}/{message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_mentions_are_removed() {
        let table = [
            ("<@42> how do I reset?", "how do I reset?"),
            ("hey <@!42> what\n  now", "hey  what\n  now"),
            ("<@&7> prices?", "prices?"),
            ("<@43> is not me", "<@43> is not me"),
            ("<@42>", ""),
        ];
        for (content, expected) in table {
            assert_eq!(strip_bot_mentions(content, 42, &[7]), expected, "{content}");
        }
    }

    #[test]
    fn markup_reads_as_people_see_it() {
        let user = |id| (id == 7).then(|| "Ann".to_string());
        let channel = |id| (id == 9).then(|| "billing".to_string());
        let table = [
            ("ask <@7> or <@!7> in <#9>", "ask @Ann or @Ann in #billing"),
            ("<@8> <#10> <@&5>", "@user #channel @role"),
            ("nice <:party:123> <a:dance:456>", "nice :party: :dance:"),
            (
                "a < b > c, <https://x.example>, <@x>, <:bad:>",
                "a < b > c, <https://x.example>, <@x>, <:bad:>",
            ),
            ("unclosed <@7", "unclosed <@7"),
        ];
        for (raw, shown) in table {
            assert_eq!(readable(raw, user, channel), shown, "{raw}");
        }
    }

    #[test]
    fn thread_names_fit_discord() {
        assert_eq!(
            thread_name("How do I\nreset   my password?", "ann"),
            "How do I reset my password?"
        );
        assert_eq!(thread_name("   ", "ann"), "Question from ann");
        let long = "word ".repeat(40);
        let name = thread_name(&long, "ann");
        assert!(name.chars().count() <= MAX_THREAD_NAME_CHARS, "{name}");
        assert!(name.ends_with("word…"), "{name}");
        let unbroken = "x".repeat(150);
        let name = thread_name(&unbroken, "ann");
        assert_eq!(name.chars().count(), MAX_THREAD_NAME_CHARS);
        assert!(name.ends_with('…'));
        let emoji = "🙂".repeat(120);
        assert_eq!(thread_name(&emoji, "a").chars().count(), MAX_THREAD_NAME_CHARS);
        assert_eq!(thread_name(&"y".repeat(100), "a"), "y".repeat(100));
    }

    #[test]
    fn context_for_the_dashboard() {
        assert_eq!(message_link(Some(1), 2, 3), "https://discord.com/channels/1/2/3");
        assert_eq!(message_link(None, 2, 3), "https://discord.com/channels/@me/2/3");
        assert_eq!(forum_question("Login broken", "since today"), "Login broken\n\nsince today");
        assert_eq!(forum_question("Login broken", " "), "Login broken");
    }
}
