//! `At<T>`: a value from the checks file together with where it was written.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;

/// A 1-based line and column in the checks file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

impl From<serde_saphyr::Location> for Pos {
    fn from(l: serde_saphyr::Location) -> Self {
        Pos {
            line: u32::try_from(l.line()).unwrap_or(u32::MAX),
            col: u32::try_from(l.column()).unwrap_or(u32::MAX),
        }
    }
}

/// A value and its position. Deserializes through serde-saphyr's `Spanned`; its JSON Schema is the
/// schema of the value, so the position is invisible to editors and users.
#[derive(Clone, Debug, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> At<T> {
    pub fn new(value: T, pos: Pos) -> Self {
        At { value, pos }
    }
}

impl<T> std::ops::Deref for At<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

thread_local! {
    /// Lines before the text being parsed, when it is a part cut from the file (see
    /// `validate::parse`): added to every position so positions are the file's.
    static LINE_OFFSET: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f` with positions shifted down by `lines`.
pub(crate) fn with_line_offset<R>(lines: u32, f: impl FnOnce() -> R) -> R {
    let before = LINE_OFFSET.with(|o| o.replace(lines));
    let r = f();
    LINE_OFFSET.with(|o| o.set(before));
    r
}

/// A position in the text being parsed, as a position in the file.
pub(crate) fn in_file(pos: Pos) -> Pos {
    let offset = LINE_OFFSET.with(std::cell::Cell::get);
    Pos {
        line: pos.line.saturating_add(offset),
        col: pos.col,
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for At<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(At {
            value: s.value,
            pos: in_file(s.referenced.into()),
        })
    }
}

impl<T: JsonSchema> JsonSchema for At<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
