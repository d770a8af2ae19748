//! Text fit to show: in a terminal, a log line, an e-mail, a page. Whatever came from outside
//! (a target's answer, a job's ping, a file) has its control and bidirectional characters
//! written out; whatever people write for others (names, updates) is checked for them.

/// Text from a target, fit to show in a terminal, a log line or an e-mail: control characters
/// (C0, DEL, C1) and the characters that reorder or hide text (bidirectional embeddings,
/// overrides, isolates and marks; zero-width joiners and spaces) are written as `\u{…}`
/// (`\n`, `\r`, `\t` for those), so they can neither move a cursor nor turn text around.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_hidden(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// [`printable`] for text whose lines matter (a job's output): line breaks (`\n`, `\r\n`) and
/// tabs are kept; a bare `\r` (which would overwrite the line), every other control character
/// and the bidirectional and invisible ones are written out.
pub fn printable_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => out.push_str("\\r"),
            c if is_hidden(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    out.push_str(&format!("\\u{{{:x}}}", c as u32));
}

/// A character that moves a cursor, ends a line, or reorders or hides text.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'   // zero-width space, joiners, LRM, RLM
            | '\u{202a}'..='\u{202e}' // embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{061c}'              // Arabic letter mark
            | '\u{feff}'              // zero-width no-break space
        )
}

/// The first character of `text` that people must not be sent or shown (see [`is_hidden`]),
/// with what it is, for an error: `U+202E (a right-to-left override)`. `lines`: line breaks and
/// tabs are allowed (an update of several paragraphs).
pub fn hidden_char(text: &str, lines: bool) -> Option<String> {
    let c = text
        .chars()
        .find(|&c| is_hidden(c) && !(lines && matches!(c, '\n' | '\t' | '\r')))?;
    let what = match c {
        '\n' | '\r' => "a line break",
        '\t' => "a tab",
        '\u{1b}' => "an escape, which starts terminal control sequences",
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            "a bidirectional control, which reorders the text around it"
        }
        '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{061c}' | '\u{feff}' => {
            "an invisible character"
        }
        _ => "a control character",
    };
    Some(format!("U+{:04X} ({what})", c as u32))
}

/// `text` if it has at most `max` characters; else its start and end around ` … `.
pub fn shorten(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(3) / 2;
    let head: String = text.chars().take(keep).collect();
    let tail: String = text.chars().skip(n - keep).collect();
    format!("{head} … {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_written_out() {
        assert_eq!(
            printable("ok\x1b[2J\r\ntxt \u{202e}gnp.exe\u{2066}"),
            "ok\\u{1b}[2J\\r\\ntxt \\u{202e}gnp.exe\\u{2066}"
        );
        assert_eq!(printable("Año nuevo: ½ €"), "Año nuevo: ½ €");
    }

    #[test]
    fn a_jobs_output_keeps_its_lines_and_loses_its_tricks() {
        assert_eq!(
            printable_lines("line 1\r\nline 2\n\tindented\rover\x07\x00\x1b[31mred \u{202e}txt"),
            "line 1\nline 2\n\tindented\\rover\\u{7}\\u{0}\\u{1b}[31mred \\u{202e}txt"
        );
    }

    #[test]
    fn hidden_characters_are_named() {
        assert_eq!(hidden_char("fine text", false), None);
        assert_eq!(hidden_char("two\nlines", true), None);
        assert_eq!(
            hidden_char("two\nlines", false).as_deref(),
            Some("U+000A (a line break)")
        );
        assert_eq!(
            hidden_char("a \u{202e}b", true).as_deref(),
            Some("U+202E (a bidirectional control, which reorders the text around it)")
        );
        assert!(hidden_char("\x1b[2J", true)
            .unwrap_or_default()
            .contains("escape"));
    }
}
