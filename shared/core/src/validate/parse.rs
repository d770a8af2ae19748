//! Reading the file: a strict parse, and after a structural error one parse per part, each
//! reporting its first structural problem at its true position.
//!
//! Linear: a list item of a block sequence (`- ...`) is parsed from its own lines only, with
//! positions shifted to the file's; an item that is not on lines of its own (a flow sequence,
//! `[{...}, {...}]`) is parsed in the whole file with every other item skipped, as is an item
//! whose own lines do not parse because they refer to an anchor elsewhere (`*name`) or, for the
//! last item of a list, because where the list ends was misjudged.

use super::Errs;
use crate::at::{with_line_offset, At, Pos};
use crate::raw::*;

/// After a failed strict parse: one parse for the top level and one per list item, each strict
/// about its part only. Returns the file assembled from every part that parsed.
pub(super) fn salvage(text: &str, errs: &mut Errs) -> RawFile {
    salvage_with(text, errs, true)
}

/// `own_lines`: parse block sequence items from their own lines (linear); otherwise every item
/// in the whole file (quadratic; what the linear way must agree with).
fn salvage_with(text: &str, errs: &mut Errs, own_lines: bool) -> RawFile {
    let lines = Lines::new(text);
    let mut merged = match with_mode(Mode::Top, || serde_saphyr::from_str::<RawFile>(text)) {
        Ok(top) => top,
        Err(e) => {
            report(errs, &lines, &e, 0, "");
            // The skeleton without settings: item positions and ids, to go on with the items.
            match with_mode(Mode::Item(SectionKind::Checks, usize::MAX), || {
                serde_saphyr::from_str::<RawFile>(text)
            }) {
                Ok(skeleton) => skeleton,
                Err(_) => return RawFile::default(),
            }
        }
    };
    #[allow(clippy::too_many_arguments)]
    fn items<T>(
        text: &str,
        own_lines: bool,
        lines: &Lines,
        kind: SectionKind,
        section: &mut Section<T>,
        pick: fn(&mut RawFile) -> &mut Section<T>,
        noun: &str,
        errs: &mut Errs,
    ) where
        T: for<'de> serde::Deserialize<'de>,
    {
        for i in 0..section.len() {
            let last = i + 1 == section.len();
            let next = section.positions.get(i + 1).copied();
            let own = own_lines.then_some(lines);
            match item(text, own, kind, i, section.positions[i], next, last, pick) {
                Ok(one) => section.items[i] = Some(one),
                Err((e, offset)) => {
                    let subject = match &section.ids[i] {
                        Some(id) => format!("{noun} {id}"),
                        None => format!("{noun} #{}", i + 1),
                    };
                    report(errs, lines, &e, offset, &subject);
                }
            }
        }
    }
    items(
        text,
        own_lines,
        &lines,
        SectionKind::Customers,
        &mut merged.customers,
        |f| &mut f.customers,
        "customer",
        errs,
    );
    items(
        text,
        own_lines,
        &lines,
        SectionKind::Services,
        &mut merged.services,
        |f| &mut f.services,
        "service",
        errs,
    );
    items(
        text,
        own_lines,
        &lines,
        SectionKind::Checks,
        &mut merged.checks,
        |f| &mut f.checks,
        "check",
        errs,
    );
    merged
}

/// Reports a parse error at its place in the file, naming the key whose value is wrong when the
/// error points at a value written after `key:`.
fn report(errs: &mut Errs, lines: &Lines, e: &serde_saphyr::Error, offset: u32, subject: &str) {
    let pos = e
        .location()
        .map(|l| {
            let p = Pos::from(l);
            Pos {
                line: p.line.saturating_add(offset),
                col: p.col,
            }
        })
        // An error about the whole document: where its content starts.
        .unwrap_or_else(|| lines.first_content());
    if let Some((pos, plain)) = lines.indentation(pos, &e.to_string()) {
        errs.push(pos, subject, "", plain);
        return;
    }
    let field = lines.key_before(pos).unwrap_or_default();
    errs.serde(e, pos, subject, field);
}

/// Where each line starts, to cut an item's lines out of the file.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// Line `n` (1-based), without its end of line; empty past the end.
    fn line(&self, n: u32) -> &'a str {
        let Some(&start) = self.starts.get(n as usize - 1) else {
            return "";
        };
        let end = self
            .starts
            .get(n as usize)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches('\r')
    }

    /// The first line that is not blank, a comment or a directive, at its first character.
    fn first_content(&self) -> Pos {
        (1..=self.count())
            .find_map(|n| {
                let l = self.line(n);
                let content = l.trim_start();
                let skip = content.is_empty()
                    || content.starts_with('#')
                    || content.starts_with('%')
                    || content == "---";
                (!skip).then(|| Pos {
                    line: n,
                    col: u32::try_from(l.chars().count() - content.chars().count() + 1)
                        .unwrap_or(1),
                })
            })
            .unwrap_or(Pos { line: 1, col: 1 })
    }

    /// A YAML structure error that is an indentation mistake, in plain words with the place to
    /// fix: a tab in the indentation, or a line indented less or more than the keys it belongs
    /// with.
    fn indentation(&self, pos: Pos, msg: &str) -> Option<(Pos, String)> {
        if pos.line == 0 || pos.line > self.count() {
            return None;
        }
        let tabbed = |n: u32| {
            self.line(n)
                .chars()
                .take_while(|c| c.is_whitespace())
                .any(|c| c == '\t')
        };
        // The reader may stop on the line before the tab (a value it was still reading).
        let lines = if msg.contains("tab") {
            pos.line..=pos.line + 1
        } else {
            pos.line..=pos.line
        };
        if let Some(n) = lines.into_iter().find(|n| *n <= self.count() && tabbed(*n)) {
            return Some((
                Pos { line: n, col: 1 },
                "indented with a tab: YAML indents with spaces only; replace the tab with spaces"
                    .into(),
            ));
        }
        let line = self.line(pos.line);
        let lead: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        let structural = [
            "did not find expected '-' indicator",
            "did not find expected key",
            "mapping values are not allowed",
        ];
        if !structural.iter().any(|s| msg.contains(s)) {
            return None;
        }
        let col = lead.chars().count() + 1;
        let above = (1..pos.line).rev().map(|n| self.line(n)).find(|l| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#')
        })?;
        let above_lead = above.chars().take_while(|c| *c == ' ').count();
        let rest = &above[above_lead..];
        // A list item's keys start one past its `- `.
        let above_col = above_lead + 1 + if rest.starts_with("- ") { 2 } else { 0 };
        let text = crate::text::shorten(line.trim(), 60);
        Some((
            pos,
            if col > above_col {
                format!(
                "`{text}` is indented more than the line above it (column {col}; the keys above start at column {above_col}): as written it continues the value above; line it up with the keys it belongs with"
            )
            } else {
                format!(
                "`{text}` starts at column {col}, but the keys of the entry above start at column {above_col}: keys of one mapping start in the same column (a list item's one past its `- `); indent it to column {above_col}, or start a new item with `- `"
            )
            },
        ))
    }

    /// `retries` for a position just after `retries: ` on its line.
    fn key_before(&self, pos: Pos) -> Option<&'a str> {
        if pos.line == 0 || pos.line > self.count() || pos.col == 0 {
            return None;
        }
        let line = self.line(pos.line);
        let at = line
            .char_indices()
            .nth(pos.col as usize - 1)
            .map(|(i, _)| i)?;
        let before = line[..at].trim_end().strip_suffix(':')?;
        let key_start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map(|i| i + 1)
            .unwrap_or(0);
        let key = &before[key_start..];
        (!key.is_empty()).then_some(key)
    }

    fn count(&self) -> u32 {
        u32::try_from(self.starts.len()).unwrap_or(u32::MAX)
    }

    /// The last line of a list whose last item starts on line `from`: the line before the next
    /// one that starts a key or a document at the left margin.
    fn list_end(&self, from: u32) -> u32 {
        let mut n = from + 1;
        while n <= self.count() {
            let l = self.line(n);
            let continues = l.is_empty()
                || l.starts_with([' ', '\t', '#'])
                || (l.starts_with('-') && !l.starts_with("---") && l[1..].starts_with([' ', '\t']))
                || l == "-";
            if !continues {
                break;
            }
            n += 1;
        }
        n - 1
    }

    /// The item at `pos` cut out on its own lines up to line `last` (the text before it on its
    /// first line, `- `, turned into spaces so that columns stay the same), or `None` when it
    /// does not start a block sequence item of its own.
    fn item(&self, pos: Pos, last: u32) -> Option<String> {
        if pos.line == 0 || pos.col == 0 || last < pos.line {
            return None;
        }
        let first = self.line(pos.line);
        let at = first
            .char_indices()
            .nth(pos.col as usize - 1)
            .map(|(i, _)| i)?;
        if first[..at].trim() != "-" {
            return None;
        }
        let start = self.starts[pos.line as usize - 1] + at;
        let end = self
            .starts
            .get(last as usize)
            .copied()
            .unwrap_or(self.text.len());
        let mut out = " ".repeat(first[..at].chars().count());
        out.push_str(self.text.get(start..end)?);
        Some(out)
    }
}

/// Item `i` of a list: from its own lines when it can be, else in the whole file. The error
/// comes with the line offset its position needs.
#[allow(clippy::too_many_arguments)]
fn item<T>(
    text: &str,
    lines: Option<&Lines>,
    kind: SectionKind,
    i: usize,
    pos: Pos,
    next: Option<Pos>,
    last: bool,
    pick: fn(&mut RawFile) -> &mut Section<T>,
) -> Result<At<T>, (serde_saphyr::Error, u32)>
where
    T: for<'de> serde::Deserialize<'de>,
{
    let own = lines.and_then(|lines| {
        let end = match next {
            Some(n) if n.line > pos.line => n.line - 1,
            Some(_) => return None,
            None => lines.list_end(pos.line),
        };
        lines.item(pos, end)
    });
    if let Some(own) = own {
        let offset = pos.line - 1;
        let parsed = with_mode(Mode::Strict, || {
            with_line_offset(offset, || serde_saphyr::from_str::<At<T>>(&own))
        });
        match parsed {
            Ok(one) => return Ok(one),
            // Its own lines say it all, unless it refers elsewhere or the list's end was a guess.
            Err(e) if !own.contains('*') && !last => return Err((e, offset)),
            Err(_) => {}
        }
    }
    match with_mode(Mode::Item(kind, i), || {
        serde_saphyr::from_str::<RawFile>(text)
    }) {
        Ok(mut one) => pick(&mut one)
            .items
            .get_mut(i)
            .and_then(Option::take)
            .ok_or_else(|| {
                (
                    <serde_saphyr::Error as serde::de::Error>::custom("the item could not be read"),
                    0,
                )
            }),
        Err(e) => Err((e, 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both_ways(text: &str) -> ((String, Vec<String>), (String, Vec<String>)) {
        let run = |own_lines| {
            let mut errs = Errs {
                file: "f.yaml".into(),
                list: Vec::new(),
            };
            let raw = salvage_with(text, &mut errs, own_lines);
            let errors = errs.list.iter().map(ToString::to_string).collect();
            (format!("{raw:?}"), errors)
        };
        (run(true), run(false))
    }

    /// Every invalid fixture, and each with an unknown field put into every item in turn: the
    /// items read from their own lines are the items read in the whole file, positions included.
    #[test]
    fn items_read_from_their_own_lines_are_those_read_in_the_whole_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/configs/invalid");
        let mut texts: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        texts.push(SHAPES.to_string());
        assert!(texts.len() > 15);
        let mut compared = 0;
        for text in &texts {
            let mut variants = vec![text.clone()];
            // An unknown field after each `id:` in turn, so each item is the broken one once.
            for (i, _) in text.match_indices("id: ") {
                let mut v = text.clone();
                v.insert_str(i, "bogus: 1, ");
                if v[..i].trim_end().ends_with('{') || v[..i].trim_end().ends_with(',') {
                    variants.push(v);
                }
            }
            for v in variants {
                let (linear, reference) = both_ways(&v);
                assert_eq!(linear, reference, "in:\n{v}");
                compared += 1;
            }
        }
        assert!(compared > 50, "{compared}");
    }

    /// Shapes a list item can take: block items, an item that merges an anchor defined in another,
    /// a flow list, a list at the left margin, `-` alone on its line, comments at the margin, a
    /// last item followed by another key.
    const SHAPES: &str = "settings:
  defaults: { interval: 1m }
customers:
- { id: acme, name: ACME, bogus: 1 }
# a comment at the margin
- id: initech
  name: Initech
services: [ { id: shop, customer: acme, name: Shop }, { id: web, customer: acme, nme: Web } ]
checks:
  - &base
    id: a
    service: shop
    http: { url: 'https://shop.example/' }
  - <<: *base
    id: b
    tiemout: 5s
  -
    id: c
    service: shop
    tcp: { host: shop.example, port: 70000 }
  - { id: d, service: nowhere, tcp: { host: shop.example, port: 80 } }
  - id: e
    service: shop
    http:
      url: |
        https://shop.example/e
# the end of the list
extra: 1
";

    #[test]
    fn shapes_of_items_are_read_alike() {
        let (linear, reference) = both_ways(SHAPES);
        assert_eq!(linear, reference);
        // The broken items are named, each at its place.
        let errors = linear.1.join("\n");
        for want in [
            "f.yaml:4:",
            "customer acme",
            "service web",
            "check b",
            "check c",
        ] {
            assert!(errors.contains(want), "{want} in {errors}");
        }
    }
}
