//! Where an answer came from: the sources line under a finished answer.
//!
//! SiteAssist names sources two ways: `source-url` / `source-document` chunks in the
//! stream, and Markdown reference definitions in the text (`[1]: https://… "Label"`,
//! cited as `[1]` or `[Label][1]`), which no chat platform renders: left in, they show
//! raw. [`cite`] takes the definitions out of the text (turning `[Label][1]` into a
//! link, and leaving a bare `[1]` as the marker the sources line repeats), and merges
//! them with the streamed sources: de-duplicated, at most [`MAX_SOURCES`]. Each
//! platform renders the line ([`ChatAdapter::render_sources`](super::adapter::ChatAdapter::render_sources));
//! the core keeps it whole in the last message of the answer. Pure.

use crate::siteassist::Source;

/// The most sources a line lists.
pub const MAX_SOURCES: usize = 5;

/// A source as the line shows it: its label (a citation's number when the text cites
/// it by number) and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cited {
    /// The citation marker used in the text (`1` for `[1]`), if any.
    pub marker: Option<String>,
    /// The title (or the URL's host when there is none).
    pub title: String,
    /// The link, when the source has one.
    pub url: Option<String>,
}

/// Splits `text` into the answer to show (reference definitions removed, `[Label][id]`
/// turned into inline links) and its sources: the definitions the text cites, then
/// `streamed`, each once, at most [`MAX_SOURCES`].
pub fn cite(text: &str, streamed: &[Source]) -> (String, Vec<Cited>) {
    let (body, definitions) = take_definitions(text);
    let body = inline_references(&body, &definitions);
    let mut cited: Vec<Cited> = Vec::new();
    let mut push = |c: Cited| {
        let dup = cited.iter().any(|x| match (&x.url, &c.url) {
            (Some(a), Some(b)) => a == b,
            (None, None) => x.title == c.title,
            _ => false,
        });
        if !dup && cited.len() < MAX_SOURCES {
            cited.push(c);
        }
    };
    for d in &definitions {
        let title = d.title.clone().unwrap_or_else(|| host(&d.url));
        let marker = d.id.chars().all(|c| c.is_ascii_digit()).then(|| d.id.clone());
        push(Cited { marker, title, url: Some(d.url.clone()) });
    }
    for s in streamed {
        let url = s.url.clone().filter(|u| is_web(u));
        let title = match (&s.title, &url) {
            (Some(t), _) if !t.trim().is_empty() => t.trim().to_string(),
            (_, Some(u)) => host(u),
            _ => continue,
        };
        push(Cited { marker: None, title, url });
    }
    (body, cited)
}

/// The answer so far as a stream shows it: [`cite`]'s text, and without the last line
/// while it is a definition still arriving (`[1]: https://exa`, or a title not closed
/// yet), which `cite` would leave in as text.
pub fn streaming_text(text: &str) -> String {
    let (body, _) = cite(text, &[]);
    let last = body.rsplit('\n').next().unwrap_or("");
    let trimmed = last.trim_start_matches(' ');
    let begun = last.len() - trimmed.len() <= 3
        && trimmed.starts_with('[')
        && trimmed.find("]:").is_some_and(|i| i > 1 && !trimmed[1..i].contains(['[', ']']));
    if begun && !body.ends_with('\n') {
        body[..body.len() - last.len()].trim_end().to_string()
    } else {
        body
    }
}

/// A reference definition: `[id]: url "title"`.
#[derive(Debug)]
struct Definition {
    id: String,
    url: String,
    title: Option<String>,
}

/// Removes the reference definition lines outside code fences (only those with a
/// web URL: anything else is left as written).
fn take_definitions(text: &str) -> (String, Vec<Definition>) {
    let mut kept = Vec::new();
    let mut found = Vec::new();
    let mut fence: Option<char> = None;
    for line in text.split('\n') {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        if let Some(m) = marker.filter(|m| trimmed.starts_with(&m.to_string().repeat(3))) {
            match fence {
                Some(open) if open == m => fence = None,
                None => fence = Some(m),
                _ => {}
            }
            kept.push(line);
            continue;
        }
        match (fence, definition(line)) {
            (None, Some(d)) => found.push(d),
            _ => kept.push(line),
        }
    }
    let mut body = kept.join("\n");
    let trimmed = body.trim_end().len();
    body.truncate(trimmed);
    (body, found)
}

/// `[id]: url` or `[id]: <url> "title"` (or `'title'`), at most three spaces in.
fn definition(line: &str) -> Option<Definition> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = line.trim().strip_prefix('[')?;
    let (id, rest) = rest.split_once("]:")?;
    if id.is_empty() || id.contains(['[', ']']) {
        return None;
    }
    let rest = rest.trim_start();
    let (url, rest) = match rest.strip_prefix('<') {
        Some(r) => r.split_once('>')?,
        None => rest.split_once(char::is_whitespace).unwrap_or((rest, "")),
    };
    if !is_web(url) {
        return None;
    }
    let rest = rest.trim();
    let title = match rest.chars().next() {
        None => None,
        Some(q @ ('"' | '\'')) => Some(rest.strip_prefix(q)?.strip_suffix(q)?.to_string()),
        Some(_) => return None,
    };
    Some(Definition { id: id.to_string(), url: url.to_string(), title })
}

/// `[Label][id]` → `[Label](url)` for the ids defined; everything else as written.
fn inline_references(body: &str, definitions: &[Definition]) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("][") {
        let (before, after) = rest.split_at(start);
        let Some(close) = after[2..].find(']') else { break };
        let id = &after[2..2 + close];
        match definitions.iter().find(|d| d.id.eq_ignore_ascii_case(id)) {
            Some(d) if before.contains('[') => {
                out.push_str(before);
                out.push_str(&format!("]({})", d.url));
                rest = &after[3 + close..];
            }
            _ => {
                out.push_str(before);
                out.push_str("][");
                rest = &after[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_web(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(char::is_whitespace)
}

/// The host of a web URL (`docs.example.com`), for a source without a title.
fn host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest).to_string()
}

/// The line in plain Markdown (`Sources: [Title](url) · [2] [Title](url)`), for
/// platforms that render links from Markdown (the console prints it as is).
pub fn markdown_line(sources: &[Cited]) -> String {
    let items: Vec<String> = sources
        .iter()
        .map(|s| {
            let marker = s.marker.as_ref().map(|m| format!("[{m}] ")).unwrap_or_default();
            match &s.url {
                Some(url) => format!("{marker}{} ({url})", s.title),
                None => format!("{marker}{}", s.title),
            }
        })
        .collect();
    format!("Sources: {}", items.join(" · "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(u: &str, t: Option<&str>) -> Source {
        Source { url: Some(u.into()), title: t.map(Into::into) }
    }

    #[test]
    fn definitions_leave_the_text_and_lead_the_sources() {
        let text = "See the guide [1] and [the FAQ][faq].\n\n\
                    [1]: https://example.com/guide \"Shipping guide\"\n\
                    [faq]: <https://example.com/faq>";
        let (body, cited) = cite(text, &[url("https://example.com/guide", Some("Dup"))]);
        assert_eq!(body, "See the guide [1] and [the FAQ](https://example.com/faq).");
        assert_eq!(
            cited,
            [
                Cited {
                    marker: Some("1".into()),
                    title: "Shipping guide".into(),
                    url: Some("https://example.com/guide".into())
                },
                Cited {
                    marker: None,
                    title: "example.com".into(),
                    url: Some("https://example.com/faq".into())
                },
            ]
        );
    }

    #[test]
    fn streamed_sources_are_deduplicated_capped_and_need_a_name() {
        let streamed = [
            url("https://a.example/x", Some("A")),
            url("https://a.example/x", Some("A again")),
            url("https://b.example/y", None),
            Source { url: None, title: Some("Handbook.pdf".into()) },
            Source { url: None, title: Some("Handbook.pdf".into()) },
            Source { url: Some("javascript:alert(1)".into()), title: None },
            url("https://c.example", Some("C")),
            url("https://d.example", Some("D")),
            url("https://e.example", Some("E")),
        ];
        let (body, cited) = cite("Answer.", &streamed);
        assert_eq!(body, "Answer.");
        let titles: Vec<&str> = cited.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, ["A", "b.example", "Handbook.pdf", "C", "D"]);
        assert!(cited.iter().all(|c| c.url.as_deref().is_none_or(is_web)));
    }

    #[test]
    fn definitions_in_code_and_odd_lines_stay() {
        let text = "```\n[1]: https://example.com/in-code\n```\n[x]: not-a-url\n    [2]: https://indented.example";
        let (body, cited) = cite(text, &[]);
        assert_eq!(body, text);
        assert!(cited.is_empty());
    }

    #[test]
    fn a_definition_still_arriving_does_not_show() {
        let text = "Ships in 2 days [1].\n\n[1]: https://example.com/docs \"Shipping";
        assert_eq!(streaming_text(text), "Ships in 2 days [1].");
        assert_eq!(streaming_text("See [1].\n[1]:"), "See [1].");
        // Text that only looks like one at its start stays.
        assert_eq!(streaming_text("Use [x] here"), "Use [x] here");
        assert_eq!(streaming_text("a\n[link](https://x.example)"), "a\n[link](https://x.example)");
    }

    #[test]
    fn the_markdown_line() {
        let cited = [
            Cited {
                marker: Some("1".into()),
                title: "Guide".into(),
                url: Some("https://g.example".into()),
            },
            Cited { marker: None, title: "Handbook.pdf".into(), url: None },
        ];
        assert_eq!(markdown_line(&cited), "Sources: [1] Guide (https://g.example) · Handbook.pdf");
    }
}
