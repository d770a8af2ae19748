//! Reading the file: a strict parse, and after a structural error one parse per part, each
//! reporting its first structural problem at its true position.

use super::Errs;
use crate::raw::*;

/// After a failed strict parse: one parse for the top level and one per list item, each strict
/// about its part only. Returns the file assembled from every part that parsed.
pub(super) fn salvage(text: &str, errs: &mut Errs) -> RawFile {
    let mut merged = match with_mode(Mode::Top, || serde_saphyr::from_str::<RawFile>(text)) {
        Ok(top) => top,
        Err(e) => {
            errs.serde(&e, "");
            // The skeleton without settings: item positions and ids, to go on with the items.
            match with_mode(Mode::Item(SectionKind::Checks, usize::MAX), || {
                serde_saphyr::from_str::<RawFile>(text)
            }) {
                Ok(skeleton) => skeleton,
                Err(_) => return RawFile::default(),
            }
        }
    };
    fn items<T>(
        text: &str,
        kind: SectionKind,
        section: &mut Section<T>,
        pick: fn(&mut RawFile) -> &mut Section<T>,
        noun: &str,
        errs: &mut Errs,
    ) where
        T: for<'de> serde::Deserialize<'de>,
    {
        for i in 0..section.len() {
            match with_mode(Mode::Item(kind, i), || {
                serde_saphyr::from_str::<RawFile>(text)
            }) {
                Ok(mut one) => {
                    let s = pick(&mut one);
                    if let Some(item) = s.items.get_mut(i).and_then(Option::take) {
                        section.items[i] = Some(item);
                    }
                }
                Err(e) => {
                    let subject = match &section.ids[i] {
                        Some(id) => format!("{noun} {id}"),
                        None => format!("{noun} #{}", i + 1),
                    };
                    errs.serde(&e, &subject);
                }
            }
        }
    }
    items(
        text,
        SectionKind::Customers,
        &mut merged.customers,
        |f| &mut f.customers,
        "customer",
        errs,
    );
    items(
        text,
        SectionKind::Services,
        &mut merged.services,
        |f| &mut f.services,
        "service",
        errs,
    );
    items(
        text,
        SectionKind::Checks,
        &mut merged.checks,
        |f| &mut f.checks,
        "check",
        errs,
    );
    merged
}
