use super::invariants::{assert_invariants, assert_links_are_ours, content_alnums};
use super::to_slack;
use crate::simulator::answer_for;
use proptest::prelude::*;

/// Runs table cases: every mismatch is reported, not just the first.
#[track_caller]
fn check(cases: &[(&str, &str)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(input, want)| {
            let got = to_slack(input);
            (got != *want).then(|| format!("input {input:?}\n   want {want:?}\n    got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn escapes_slack_control_characters_in_all_input_text() {
    check(&[
        ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
        ("`a<b>&c`", "`a&lt;b&gt;&amp;c`"),
        ("[x<y>&z](https://e.com)", "<https://e.com|x&lt;y&gt;&amp;z>"),
        ("```\n<&>\n```", "```\n&lt;&amp;&gt;\n```"),
        ("| a<b |\n|---|\n| & |", "```\na&lt;b\n---\n&amp;\n```"),
        // Entities are decoded by the parser, then escaped again for Slack.
        ("&lt;!here&gt; &amp;", "&lt;!here&gt; &amp;"),
    ]);
}

#[test]
fn emphasis_becomes_slack_markers_with_word_boundaries() {
    check(&[
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*italic* and _italic_", "_italic_ and _italic_"),
        ("~~strike~~", "~strike~"),
        ("a `code` span", "a `code` span"),
        ("***both***", "*_both_*"),
        ("*a **b** c*", "_a *b* c_"),
        ("***a** b*", "*_a_* _b_"),
        ("**[docs](https://e.com)**", "*<https://e.com|docs>*"),
        // Glued to words: a zero-width space gives Slack the boundary it needs.
        ("foo**bar**baz", "foo\u{200B}*bar*\u{200B}baz"),
        ("foo*bar*baz", "foo\u{200B}_bar_\u{200B}baz"),
        ("x`y`z", "x\u{200B}`y`\u{200B}z"),
        ("(**a**)", "(*a*)"),
        // Slack markers do not span lines: close and reopen around the break.
        ("**one\ntwo**", "*one*\n*two*"),
    ]);
}

#[test]
fn links_images_and_bare_urls() {
    check(&[
        ("[label](https://example.com)", "<https://example.com|label>"),
        ("<https://example.com>", "<https://example.com>"),
        ("see https://example.com/a_b.", "see <https://example.com/a_b>."),
        ("(https://e.com/x_(y)), ok", "(<https://e.com/x_(y)>), ok"),
        ("HTTP://E.COM", "<HTTP://E.COM>"),
        ("nohttps://e.com", "nohttps://e.com"),
        ("[https://e.com](https://e.com)", "<https://e.com>"),
        ("[a|b>c](https://e.com/p|q)", "<https://e.com/p%7Cq|a\u{2223}b&gt;c>"),
        ("[q](https://e.com/?a=1&b=2)", "<https://e.com/?a=1&amp;b=2|q>"),
        ("[sp](<https://e.com/a b>)", "<https://e.com/a%20b|sp>"),
        ("[**bold** `x`\nlabel](https://e.com)", "<https://e.com|bold x label>"),
        ("[js](javascript:alert(1))", "js (javascript:alert(1))"),
        ("[rel](/docs)", "rel (/docs)"),
        ("[ftp://x](ftp://x)", "ftp://x"),
        ("<me@example.com>", "<mailto:me@example.com|me@example.com>"),
        ("[mail](mailto:a@b.c)", "<mailto:a@b.c|mail>"),
        ("![logo](https://e.com/l.png)", "<https://e.com/l.png|logo>"),
        ("![](https://e.com/l.png)", "<https://e.com/l.png>"),
        ("![logo](l.png)", "logo (l.png)"),
        ("[![img](https://i.png)](https://e.com)", "<https://e.com|img>"),
        // SiteAssist citations: reference definitions resolved by the parser.
        (
            "See [the guide][1] and [2].\n\n[1]: https://e.com/g \"Guide\"\n[2]: https://e.com/two",
            "See <https://e.com/g|the guide> and <https://e.com/two|2>.",
        ),
    ]);
}

#[test]
fn input_cannot_forge_mentions_or_links() {
    check(&[
        ("<!channel> <@U123> <#C1>", "&lt;!channel&gt; &lt;@U123&gt; &lt;#C1&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<https://evil|x>", "&lt;https://evil|x&gt;"),
        ("`<@U123>`", "`&lt;@U123&gt;`"),
        ("[<!channel>](https://e.com)", "<https://e.com|&lt;!channel&gt;>"),
        ("[x](<!channel>)", "x (!channel)"),
        ("https://e.com/<!channel>", "<https://e.com/>&lt;!channel&gt;"),
        ("<!channel>\n\nnext", "&lt;!channel&gt;\n\nnext"),
    ]);
}

#[test]
fn blocks_headings_rules_breaks_html_footnotes() {
    check(&[
        ("# Title\nText", "*Title*\n\nText"),
        ("## A **b** c\n\n### D", "*A b c*\n\n*D*"),
        ("a\n\n***\n\nb", "a\n\n———\n\nb"),
        ("a  \nb\nc", "a\nb\nc"),
        ("a\n\n\n\nb\n\n", "a\n\nb"),
        ("<div>\n<b>x</b>\n</div>", "&lt;div&gt;\n&lt;b&gt;x&lt;/b&gt;\n&lt;/div&gt;"),
        ("a <span>b</span>", "a &lt;span&gt;b&lt;/span&gt;"),
        ("Text[^1].\n\n[^1]: The note.", "Text[1].\n\n[1]: The note."),
        (":tada: 🎉 café", ":tada: 🎉 café"),
    ]);
}

#[test]
fn lists() {
    check(&[
        ("- a\n- b\n  - c\n    - d\n- e", "• a\n• b\n    ◦ c\n        ▪ d\n• e"),
        ("3. x\n4. y", "3. x\n4. y"),
        ("1. a\n1. b", "1. a\n2. b"),
        ("- a\n    1. x", "• a\n    1. x"),
        ("- a\n\n- b", "• a\n• b"),
        ("- a\n\n  more\n- b", "• a\n  more\n• b"),
        ("10. a\n\n    more", "10. a\n    more"),
        ("Steps:\n\n1. one\n2. two\n\nDone.", "Steps:\n\n1. one\n2. two\n\nDone."),
        ("- a\n\n1. b", "• a\n\n1. b"),
        ("- - x", "•\n    ◦ x"),
        ("> - q\n> - r", "> • q\n> • r"),
        ("1. a\n\n   ```\n   code\n   ```\n2. b", "1. a\n   ```\ncode\n```\n2. b"),
    ]);
}

#[test]
fn quotes_and_code_blocks() {
    check(&[
        ("> a\n> b\n>\n> c\n\nafter", "> a\n> b\n>\n> c\n\nafter"),
        ("a\n\n> b\n\n> c", "a\n\n> b\n\n> c"),
        ("> ```\n> x\n>\n> y\n> ```", "> ```\n> x\n>\n> y\n> ```"),
        ("```rust\nfn x() { a && b }\n```", "```\nfn x() { a &amp;&amp; b }\n```"),
        ("    indented\n      code", "```\nindented\n  code\n```"),
        ("```\n```", "```\n```"),
        ("~~~\n```\n~~~", "```\n``\u{200B}`\n```"),
        ("```\n**not bold** [x](https://e)\n```", "```\n**not bold** [x](https://e)\n```"),
    ]);
}

#[test]
fn tables_become_padded_monospace_blocks() {
    check(&[
        (
            "| Plan | Price |\n|---|--:|\n| Free | $0 |\n| Business | $99 |",
            "```\nPlan     | Price\n---------+------\nFree     |    $0\nBusiness |   $99\n```",
        ),
        (
            "| Name | N | Link |\n|:-:|--:|---|\n| **x** | 10 | [l](https://e.com) `c` |",
            "```\nName |  N | Link\n-----+----+--------------------\n x   | 10 | l (https://e.com) c\n```",
        ),
    ]);
}

#[test]
fn streaming_prefixes_render_sensibly() {
    check(&[
        ("Click **Forgot", "Click **Forgot"),
        ("```bash\necho hi", "```\necho hi\n```"),
        ("```bash\n", "```\n```"),
        ("1. Open\n2.", "1. Open\n2."),
        ("- ", "•"),
        ("## ", ""),
        ("| a | b |\n|---|---|\n| 1", "```\na | b\n--+--\n1 |\n```"),
        ("[1]: https://e.com/partial", ""),
        ("> ", ""),
    ]);
}

const QUESTIONS: [&str; 4] = [
    "How do I reset my password?",
    "How do I install the widget? show me code",
    "tell me everything",
    "how do I check that my api key works?",
];

#[test]
fn simulator_answers_render_as_slack_mrkdwn() {
    for question in QUESTIONS {
        let out = to_slack(&answer_for(question));
        assert!(!out.contains("**") && !out.contains("]("), "{question}: {out}");
        assert_links_are_ours(&out);
    }
    let password = to_slack(&answer_for(QUESTIONS[0]));
    for needle in [
        "1. Open the <https://example.com/login|sign-in page> and click *Forgot password?*\n2. ",
        "\n4. Choose a new password of at least 12 characters.\n\nIf the email",
    ] {
        assert!(password.contains(needle), "missing {needle:?} in {password}");
    }
    let guide = to_slack(&answer_for(QUESTIONS[2]));
    for needle in [
        "\n\n*1. Setting up your workspace.* After",
        "\n\n```\nexport EXAMPLE_API_KEY=\"sk_live_replace_me\"\n",
        "| jq '.data[].status'\n```\n\nWhen every source",
        "<https://example.com/docs/getting-started|getting started guide>",
    ] {
        assert!(guide.contains(needle), "missing {needle:?}");
    }
    let api = to_slack(&answer_for(QUESTIONS[3]));
    assert!(api.contains("*Settings → API keys*"), "{api}");
    assert!(api.contains("```\ncurl -s https://api.example.com/v1/me \\\n  -H"), "{api}");
    assert!(api.contains("<https://example.com/docs/api|API docs>"), "{api}");
}

/// Every `<` must open a link the renderer built: an allowed scheme, a URL without spaces
/// or `<`, an optional `|label`, and a closing `>` on the same line.
#[track_caller]
#[test]
fn the_invariant_checks_can_fail() {
    let stray = std::panic::catch_unwind(|| assert_links_are_ours("a <!channel>"));
    assert!(stray.is_err());
    let lost = std::panic::catch_unwind(|| {
        let mut shown = "ab".chars();
        assert!(content_alnums("a *b* c").into_iter().all(|c| shown.any(|s| s == c)));
    });
    assert!(lost.is_err());
}

/// Markdown-ish fragments, so random inputs hit the interesting syntax often.
const FRAGMENTS: &[&str] = &[
    "**",
    "*",
    "_",
    "__",
    "~~",
    "`",
    "```",
    "~~~",
    "[",
    "]",
    "(",
    ")",
    "](",
    "<",
    ">",
    "|",
    "!",
    "#",
    "# ",
    "- ",
    "1. ",
    "> ",
    "\n",
    "\n\n",
    "  ",
    "    ",
    "---",
    "&",
    "&lt;",
    "\\",
    ":",
    "word",
    "Zed9",
    "é",
    "🎉",
    "https://e.com/x",
    "mailto:a@b.c",
    "<https://a|b>",
    "<!channel>",
    "<@U1>",
    "[^1]",
    "[^1]: note",
    "[1]: https://e.com",
    "[1]",
    "| a | b |\n|---|---|\n",
    "<div>",
    "javascript:x",
];

fn markdownish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        1 => any::<String>(),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn answer_prefix() -> impl Strategy<Value = String> {
    (0..QUESTIONS.len(), any::<proptest::sample::Index>()).prop_map(|(q, cut)| {
        let answer = answer_for(QUESTIONS[q]);
        let mut at = cut.index(answer.len() + 1);
        while !answer.is_char_boundary(at) {
            at -= 1;
        }
        answer[..at].to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_markdown_keeps_the_invariants(markdown in markdownish()) {
        assert_invariants(&markdown);
    }

    #[test]
    fn every_prefix_of_a_real_answer_keeps_the_invariants(prefix in answer_prefix()) {
        assert_invariants(&prefix);
    }
}

#[test]
fn pathological_inputs_stay_linear() {
    let started = std::time::Instant::now();
    // `- - -` would be a thematic break; ordered markers nest without limit.
    let deep_list = to_slack(&format!("{}x", "1. ".repeat(5_000)));
    assert!(deep_list.len() < 5_000 * 40, "{}", deep_list.len());
    assert!(deep_list.starts_with("1.\n    1.\n        1.\n"), "{}", &deep_list[..40]);
    assert!(deep_list.ends_with(&format!("\n{}1. x", " ".repeat(32))));
    let dots = to_slack(&format!("see https://e.com{} ok", ".".repeat(100_000)));
    assert!(dots.starts_with("see <https://e.com>..."));
    let quotes = to_slack(&format!("{}x", "> ".repeat(2_000)));
    assert!(quotes.ends_with("> > x"));
    let emphasis = to_slack(&"**a ".repeat(5_000));
    assert!(emphasis.contains("a"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn sources_line_links_and_escapes_titles() {
    use crate::bridge::sources::Cited;
    let cited = [
        Cited {
            marker: Some("1".into()),
            title: "Tips & <tricks> | more".into(),
            url: Some("https://a.example/x?a=1&b=2".into()),
        },
        Cited { marker: None, title: "Handbook.pdf".into(), url: None },
    ];
    assert_eq!(
        super::sources_line(&cited),
        "Sources: [1] <https://a.example/x?a=1&amp;b=2|Tips &amp; &lt;tricks&gt; ¦ more> · Handbook.pdf"
    );
}
