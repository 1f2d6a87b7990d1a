//! SiteAssist Markdown → what Discord displays. Pure: the core calls it on every edit
//! with the whole answer so far.
//!
//! Discord renders most of what SiteAssist writes as is: bold, italics, strikethrough,
//! inline code, fenced code blocks, block quotes, `#`–`###` headings, bulleted and
//! numbered lists and `[text](url)` links. So the text passes through, except for what
//! Discord shows wrongly or what could notify people:
//!
//! - **Tables** (GitHub style) become code blocks with aligned columns: Discord has no
//!   tables, and pipes in proportional type are unreadable.
//! - **Headings** `####` and deeper become a bold line (Discord shows them literally).
//! - **Images** `![alt](url)` become links (Discord does not inline Markdown images).
//! - **`~~~` fences** become ```` ``` ```` fences (Discord only knows backticks).
//! - **Mentions** (`@everyone`, `@here`, `<@user>`, `<@!user>`, `<@&role>`) get a
//!   zero-width space after the `@`, so they show as text instead of highlighted
//!   mentions. Nothing could ping anyway (every message is sent with empty
//!   `allowed_mentions`), but a highlighted `@everyone` in an answer would still alarm
//!   readers. Code is left alone: Discord does not parse mentions inside code. What is
//!   code is decided last, on the rendered text, by Discord's rules rather than
//!   CommonMark's: a backslash escapes, code spans may cross lines, and a fence that
//!   is not closed yet (mid-stream) is prose.

/// A zero-width space: breaks a mention's syntax without changing how it reads.
const ZWSP: char = '\u{200B}';

/// Renders SiteAssist Markdown for Discord (see the [module docs](self)).
pub fn render(markdown: &str) -> String {
    let lines: Vec<&str> = markdown.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut fence: Option<Fence> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(open) = &fence {
            if open.closed_by(line) {
                out.push(if open.tilde { line.replace('~', "`") } else { line.to_string() });
                fence = None;
            } else {
                out.push(line.to_string());
            }
            i += 1;
            continue;
        }
        if let Some(open) = Fence::opened_by(line) {
            out.push(if open.tilde { tilde_to_backticks(line) } else { line.to_string() });
            fence = Some(open);
            i += 1;
            continue;
        }
        if let Some(rows) = table_at(&lines, i) {
            out.extend(table_block(&lines[i..i + rows]));
            i += rows;
            continue;
        }
        out.push(inline(&heading(line)));
        i += 1;
    }
    defuse_mentions(&out.join("\n"))
}

/// An open code fence.
struct Fence {
    tilde: bool,
    len: usize,
}

impl Fence {
    fn opened_by(line: &str) -> Option<Self> {
        let t = strip_indent(line)?;
        let c = t.chars().next()?;
        if c != '`' && c != '~' {
            return None;
        }
        let len = t.chars().take_while(|&x| x == c).count();
        // A backtick fence's info string cannot contain backticks (CommonMark).
        (len >= 3 && !(c == '`' && t[len..].contains('`'))).then_some(Self { tilde: c == '~', len })
    }

    fn closed_by(&self, line: &str) -> bool {
        let Some(t) = strip_indent(line) else { return false };
        let c = if self.tilde { '~' } else { '`' };
        let len = t.chars().take_while(|&x| x == c).count();
        len >= self.len && t[len..].trim().is_empty()
    }
}

/// The line without up to three spaces of indentation, or `None` if it is indented
/// further (then it cannot open or close a fence).
fn strip_indent(line: &str) -> Option<&str> {
    let t = line.trim_start_matches(' ');
    (line.len() - t.len() <= 3).then_some(t)
}

fn tilde_to_backticks(line: &str) -> String {
    let t = line.trim_start_matches(' ');
    let indent = &line[..line.len() - t.len()];
    let len = t.chars().take_while(|&c| c == '~').count();
    format!("{indent}{}{}", "`".repeat(len), &t[len..])
}

/// How many lines form a table starting at `i`: a header row with pipes, a delimiter
/// row with as many columns, then every following non-blank row with a pipe.
fn table_at(lines: &[&str], i: usize) -> Option<usize> {
    let header = lines[i];
    let delimiter = lines.get(i + 1)?;
    if !header.contains('|') || !is_delimiter(delimiter) {
        return None;
    }
    if cells(header).len() != cells(delimiter).len() {
        return None;
    }
    let body = lines[i + 2..].iter().take_while(|l| l.contains('|') && !l.trim().is_empty());
    Some(2 + body.count())
}

fn is_delimiter(line: &str) -> bool {
    let cells = cells(line);
    !cells.is_empty()
        && line.contains('-')
        && cells.iter().all(|c| {
            let c = c.trim_start_matches(':').trim_end_matches(':');
            !c.is_empty() && c.chars().all(|x| x == '-')
        })
}

/// The cells of a table row: outer pipes dropped, split on unescaped pipes, emphasis
/// and code markers removed (they would show literally inside a code block).
fn cells(row: &str) -> Vec<String> {
    let t = row.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = if t.ends_with('|') && !t.ends_with("\\|") { &t[..t.len() - 1] } else { t };
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    out.push(cell);
    out.into_iter()
        .map(|c| c.replace("**", "").replace("__", "").replace('`', "").trim().to_string())
        .collect()
}

/// A table as a code block: header, a rule, then the rows, columns padded to align.
fn table_block(rows: &[&str]) -> Vec<String> {
    let header = cells(rows[0]);
    let body: Vec<Vec<String>> = rows[2..].iter().map(|r| cells(r)).collect();
    let columns = body.iter().map(Vec::len).chain([header.len()]).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in body.iter().chain([&header]) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String]| -> String {
        let padded: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(k, w)| {
                let cell = row.get(k).map(String::as_str).unwrap_or("");
                format!("{cell}{}", " ".repeat(w - cell.chars().count()))
            })
            .collect();
        padded.join(" | ").trim_end().to_string()
    };
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat((*w).max(1))).collect();
    let mut out = vec!["```".to_string(), line(&header), rule.join("-+-")];
    out.extend(body.iter().map(|r| line(r)));
    out.push("```".to_string());
    out
}

/// `####`–`######` headings as a bold line; other lines unchanged.
fn heading(line: &str) -> String {
    let t = line.trim_start();
    let level = t.chars().take_while(|&c| c == '#').count();
    if !(4..=6).contains(&level) || !t[level..].starts_with(' ') {
        return line.to_string();
    }
    let text = t[level..].trim().trim_end_matches('#').trim_end();
    if text.is_empty() {
        String::new()
    } else {
        format!("**{text}**")
    }
}

/// Rewrites images in one line, leaving inline code spans untouched.
fn inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        let run = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + run..];
        // A code span closes with a run of exactly as many backticks.
        let close = find_run(after, run);
        out.push_str(&text_segment(&rest[..start]));
        match close {
            Some(end) => {
                out.push_str(&rest[start..start + run + end + run]);
                rest = &after[end + run..];
            }
            None => {
                out.push_str(&rest[start..start + run]);
                rest = after;
            }
        }
    }
    out.push_str(&text_segment(rest));
    out
}

/// Byte offset in `s` of the first run of exactly `n` backticks.
fn find_run(s: &str, n: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let len = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            if len == n {
                return Some(i);
            }
            i += len;
        } else {
            i += 1;
        }
    }
    None
}

/// Text outside code: images become links.
fn text_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with("![") && rest[2..].contains("](") {
            out.push('[');
            i += 2;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The sources line, as small text with link previews suppressed:
/// `-# Sources: [Title](<url>) · [2] [Title](<url>)`. Titles are escaped (they are
/// text, not Markdown) and cannot mention anyone.
pub fn sources_line(sources: &[crate::bridge::sources::Cited]) -> String {
    let escape = |t: &str| -> String {
        let mut out = String::with_capacity(t.len());
        for c in t.chars().filter(|c| *c != '\n') {
            if "\\*_~`|[]()<>#-".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let items: Vec<String> = sources
        .iter()
        .map(|s| {
            let marker =
                s.marker.as_ref().map(|m| format!("\\[{}\\] ", escape(m))).unwrap_or_default();
            let title = escape(&s.title);
            match s.url.as_deref().filter(|u| !u.contains(['<', '>', ' '])) {
                Some(url) => format!("{marker}[{title}](<{url}>)"),
                None => format!("{marker}{title}"),
            }
        })
        .collect();
    defuse_mentions(&format!("-# Sources: {}", items.join(" · ")))
}

/// Puts a zero-width space after the `@` of every mention Discord would parse in
/// `text`: everywhere but in code, where code is what Discord's own rules make it
/// (see [`code_len`]).
fn defuse_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let escaped = rest.strip_prefix('\\').and_then(|r| r.chars().next());
        let skip = match escaped {
            // `\@everyone` shows as text already; `\`` is not a code span's start.
            Some(c) if c.is_ascii_punctuation() => Some(1 + c.len_utf8()),
            _ => code_len(rest),
        };
        if let Some(len) = skip {
            out.push_str(&rest[..len]);
            i += len;
        } else if rest.starts_with("@everyone") || rest.starts_with("@here") {
            // Even after a letter: Discord's parser ends a text run before `@`, so
            // `me@here.com` shows a highlighted `@here` (found by the fuzz target).
            out.push('@');
            out.push(ZWSP);
            i += 1;
        } else if rest.starts_with("<@") {
            out.push_str("<@");
            out.push(ZWSP);
            i += 2;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of the code `text` starts with, by Discord's rules: a code block is
/// ```` ``` ```` up to the next ```` ``` ```` with some non-newline text between (on any
/// line, and only once closed); an inline span is a run of backticks, text not ending
/// in a backtick, and a run of exactly as many, where the opening run may give up
/// backticks to find its close (Discord matches it with a backtracking pattern).
fn code_len(text: &str) -> Option<usize> {
    if let Some(body) = text.strip_prefix("```") {
        let mut from = 0;
        while let Some(at) = body[from..].find("```").map(|k| from + k) {
            if body[..at].contains(|c| c != '\n') {
                return Some(3 + at + 3);
            }
            from = at + 1;
        }
    }
    let run = text.bytes().take_while(|&b| b == b'`').count();
    (1..=run).rev().find_map(|n| {
        let after = &text[n..];
        let mut from = 0;
        while let Some(at) = after[from..].find('`').map(|k| from + k) {
            let len = after[at..].bytes().take_while(|&b| b == b'`').count();
            // The text before the closing run must not end in a backtick: `at > 0`
            // and a run that starts here (not inside a longer one) see to both.
            if at > 0 && len == n {
                return Some(n + at + n);
            }
            from = at + len;
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use crate::bridge::sources::Cited;

    #[test]
    fn sources_line_escapes_titles_suppresses_previews_and_pings_nobody() {
        let cited = [
            Cited {
                marker: Some("1".into()),
                title: "**Bold** [x](y) @everyone".into(),
                url: Some("https://a.example/x".into()),
            },
            Cited { marker: None, title: "Plain <@123>".into(), url: None },
        ];
        assert_eq!(
            sources_line(&cited),
            "-# Sources: \\[1\\] [\\*\\*Bold\\*\\* \\[x\\]\\(y\\) @\u{200B}everyone](<https://a.example/x>) \
             · Plain \\<@123\\>",
            "an escaped `<` is no mention; `@everyone` gets the zero-width space"
        );
    }

    use super::*;

    #[test]
    fn discord_markdown_passes_through() {
        let md = "# Title\n\n**bold** and *it* ~~gone~~ `code` [link](https://x.y)\n\n\
                  - one\n- two\n\n1. a\n2. b\n\n> quote\n\n```bash\necho hi\n```";
        assert_eq!(render(md), md);
    }

    #[test]
    fn every_simulator_answer_is_unchanged() {
        for q in ["password", "pricing", "api key", "everything", "refund", "slack", "???"] {
            let a = crate::simulator::answer_for(q);
            assert_eq!(render(&a), a, "{q}");
        }
    }

    #[test]
    fn tables_become_aligned_code_blocks() {
        let md = "Plans:\n\n| Plan | **Price** |\n|:-----|------:|\n| Free | $0 |\n| Business | $99 |\n\nDone.";
        let expected = "Plans:\n\n```\nPlan     | Price\n---------+------\nFree     | $0\nBusiness | $99\n```\n\nDone.";
        assert_eq!(render(md), expected);
    }

    #[test]
    fn what_is_not_a_table_stays() {
        for md in ["a | b\nnot a rule", "a | b\n---", "x\n|---|---|", "a | b | c\n|---|---|"] {
            assert_eq!(render(md), md, "{md:?}");
        }
        let fenced = "```\n| a | b |\n|---|---|\n```";
        assert_eq!(render(fenced), fenced);
    }

    #[test]
    fn mentions_are_defused_outside_code() {
        let table = [
            ("hi @everyone", "hi @\u{200B}everyone"),
            ("@here look", "@\u{200B}here look"),
            ("ask <@123> or <@!45>", "ask <@\u{200B}123> or <@\u{200B}!45>"),
            ("the <@&9> role", "the <@\u{200B}&9> role"),
            ("mail me@here.com", "mail me@\u{200B}here.com"),
            ("N@everyone", "N@\u{200B}everyone"),
            ("(@here)", "(@\u{200B}here)"),
            ("`@everyone` is literal", "`@everyone` is literal"),
            ("``a ` <@1>`` then <@2>", "``a ` <@1>`` then <@\u{200B}2>"),
            ("unclosed ` <@1>", "unclosed ` <@\u{200B}1>"),
        ];
        for (md, expected) in table {
            assert_eq!(render(md), expected, "{md:?}");
        }
        let block = "```\n@everyone <@1>\n```\n@here";
        assert_eq!(render(block), "```\n@everyone <@1>\n```\n@\u{200B}here");
    }

    #[test]
    fn deep_headings_images_and_tilde_fences() {
        assert_eq!(render("#### Step 4 ##"), "**Step 4**");
        assert_eq!(render("### Kept"), "### Kept");
        assert_eq!(render("####no space"), "####no space");
        assert_eq!(render("see ![logo](https://x.y/l.png)"), "see [logo](https://x.y/l.png)");
        assert_eq!(render("wow![not an image"), "wow![not an image");
        assert_eq!(render("~~~py\nx = '@here'\n~~~"), "```py\nx = '@here'\n```");
    }

    #[test]
    fn a_fence_is_code_once_closed() {
        // Mid-stream, Discord shows an unclosed fence as prose, mentions and all.
        let partial = "Try:\n\n```bash\ncurl <@1> @everyone";
        assert_eq!(render(partial), "Try:\n\n```bash\ncurl <@\u{200B}1> @\u{200B}everyone");
        let whole = format!("{partial}\n```");
        assert_eq!(render(&whole), whole);
    }

    #[test]
    fn code_is_what_discord_makes_code() {
        let table = [
            // A code span may cross lines; the next backtick then opens nothing.
            ("`x\n`@everyone`", "`x\n`@\u{200B}everyone`"),
            // An escaped backtick opens no span.
            ("\\`@here`", "\\`@\u{200B}here`"),
            // A fence's info string is prose until the fence closes.
            ("```@everyone", "```@\u{200B}everyone"),
            // The opening run gives up a backtick to find its close.
            ("``a @here`", "``a @here`"),
            // Inline triple backticks are a code block.
            ("a ```@here``` b", "a ```@here``` b"),
        ];
        for (md, expected) in table {
            assert_eq!(render(md), expected, "{md:?}");
        }
    }
}
