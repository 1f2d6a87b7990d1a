use super::*;

fn file(name: &str, content_type: Option<&str>, size: Option<u64>) -> Attachment {
    Attachment {
        name: name.into(),
        content_type: content_type.map(Into::into),
        size,
        url: format!("https://files.example/{name}"),
    }
}

#[test]
fn text_is_told_by_name_and_content_type() {
    let table = [
        ("app.log", None, true),
        ("notes.MD", None, true),
        ("data.csv", Some("text/csv"), true),
        ("main.rs", Some("application/octet-stream"), true),
        ("Dockerfile", None, true),
        ("config", Some("application/json; charset=utf-8"), true),
        ("readme", Some("text/plain"), true),
        ("shot.png", Some("image/png"), false),
        ("shot.png", None, false),
        ("fake.txt", Some("image/png"), false),
        ("report.pdf", Some("application/pdf"), false),
        ("archive.zip", None, false),
        ("noextension", None, false),
    ];
    for (name, mime, text) in table {
        assert_eq!(file(name, mime, None).is_text(), text, "{name} {mime:?}");
    }
}

#[test]
fn plans_read_three_small_text_files_at_most() {
    let big = MAX_FILE_BYTES as u64 + 1;
    let files = [
        file("a.txt", None, Some(10)),
        file("pic.png", Some("image/png"), Some(10)),
        file("huge.log", None, Some(big)),
        file("b.md", None, None),
        file("c.json", None, Some(MAX_FILE_BYTES as u64)),
        file("d.csv", None, Some(1)),
        file("e.log", None, Some(big)),
    ];
    use Plan::*;
    assert_eq!(plan(&files), [Read, NotText, TooLarge, Read, Read, TooMany, TooLarge]);
    assert!(plan(&[]).is_empty());
}

#[test]
fn notes_name_the_files_in_one_line_per_situation() {
    assert!(Notes::default().lines().is_empty(), "nothing to say, no line");
    let notes = Notes {
        not_text: vec!["shot.png".into(), "doc.pdf".into()],
        too_large: vec!["big.log".into()],
        trimmed: vec!["app`s.log".into()],
        ..Notes::default()
    };
    assert_eq!(
        notes.lines(),
        [
            "📎 Not read (only text files are): `shot.png`, `doc.pdf`",
            "📎 Not read, larger than 100 KB: `big.log`",
            "📎 Shortened to fit SiteAssist's 10,000-character limit: `app's.log`",
        ]
    );
}

#[test]
fn files_follow_the_question_in_named_fenced_blocks() {
    let files = [("a.log".to_string(), "line 1\nline 2\n".to_string())];
    let (content, trimmed) = compose("Why does it fail?", &files, 10_000);
    assert_eq!(content, "Why does it fail?\n\nFile: a.log\n```\nline 1\nline 2\n```");
    assert!(trimmed.is_empty());
    let (alone, _) = compose("  ", &files, 10_000);
    assert_eq!(alone, "File: a.log\n```\nline 1\nline 2\n```", "a file without a question");
    let (none, trimmed) = compose("Hi", &[], 10_000);
    assert_eq!((none.as_str(), trimmed.len()), ("Hi", 0));
}

#[test]
fn a_fence_outlasts_the_backticks_inside() {
    let files = [("x.md".to_string(), "```rust\nfn main() {}\n```".to_string())];
    let (content, _) = compose("", &files, 10_000);
    assert_eq!(content, "File: x.md\n````\n```rust\nfn main() {}\n```\n````");
}

#[test]
fn the_whole_stays_within_the_limit_and_says_what_was_cut() {
    // (question length, file lengths, limit, files cut)
    let table: [(usize, &[usize], usize, &[&str]); 5] = [
        (20, &[100], 10_000, &[]),
        (20, &[20_000], 10_000, &["f0"]),
        (9_000, &[5_000, 10], 10_000, &["f0"]),
        (100, &[50, 9_000, 9_000], 10_000, &["f1", "f2"]),
        (9_990, &[500], 10_000, &["f0"]),
    ];
    for (q, lens, max, cut) in table {
        let question = "q".repeat(q);
        let files: Vec<(String, String)> =
            lens.iter().enumerate().map(|(i, n)| (format!("f{i}"), "é".repeat(*n))).collect();
        let (content, trimmed) = compose(&question, &files, max);
        assert!(units(&content) <= max, "{q} {lens:?}: {} units", units(&content));
        assert!(content.starts_with(&question), "the question is never cut");
        assert_eq!(trimmed, cut, "{q} {lens:?}");
        for (name, text) in &files {
            let shown = content.contains(&format!("File: {name}\n"));
            let whole = content.contains(text.as_str());
            let dropped = cut.contains(&name.as_str()) && !shown;
            assert!(
                whole || dropped || content.contains(CUT),
                "{name}: shown whole, cut or dropped"
            );
        }
    }
}

#[test]
fn cutting_counts_what_siteassist_counts() {
    // Emoji are two UTF-16 units each: a cut by characters would go over the limit.
    let files = [("e.txt".to_string(), "🙂".repeat(8_000))];
    let (content, trimmed) = compose("why?", &files, 10_000);
    assert!(units(&content) <= 10_000, "{}", units(&content));
    assert!(units(&content) > 9_900, "the room is used: {}", units(&content));
    assert_eq!(trimmed, ["e.txt"]);
    assert!(content.ends_with(&format!("{CUT}\n```")));
}
