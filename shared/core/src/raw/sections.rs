//! Reading the checks file one part at a time, so that every structural problem is reported:
//! after a failed strict parse, the loader parses again once for the top level and once per
//! list item, each parse strict about its own part only (the parse mode is a thread-local, as
//! serde-saphyr takes no seed) and lenient elsewhere (an item that does not parse still gives
//! its id, so references to it are not reported as unknown too).

use super::RawFile;
use crate::at::At;
use schemars::JsonSchema;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::cell::Cell;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Everything.
    Strict,
    /// Top-level keys and settings; list items are skipped.
    Top,
    /// One list item only; everything else is skipped.
    Item(SectionKind, usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SectionKind {
    Customers,
    Services,
    Checks,
}

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode::Strict) };
}

pub(crate) fn with_mode<R>(mode: Mode, f: impl FnOnce() -> R) -> R {
    let before = MODE.with(|m| m.replace(mode));
    let r = f();
    MODE.with(|m| m.set(before));
    r
}

fn mode() -> Mode {
    MODE.with(|m| m.get())
}

/// A list section. Items skipped by the parse mode are `None`; in a strict parse all are `Some`.
#[derive(Debug)]
pub struct Section<T> {
    pub items: Vec<Option<At<T>>>,
    /// Position of each item (also for skipped ones), so errors can name items by index.
    pub positions: Vec<crate::Pos>,
    /// Each item's `id`, when it has a string one, read leniently (for naming items in errors).
    pub ids: Vec<Option<String>>,
}

impl<T> Default for Section<T> {
    fn default() -> Self {
        Section {
            items: Vec::new(),
            positions: Vec::new(),
            ids: Vec::new(),
        }
    }
}

impl<T> Section<T> {
    /// The parsed items (all of them after a successful strict parse).
    pub fn iter(&self) -> impl Iterator<Item = &At<T>> {
        self.items.iter().flatten()
    }
    pub fn len(&self) -> usize {
        self.positions.len()
    }
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

impl<T: JsonSchema> JsonSchema for Section<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Array_of_{}", T::schema_name()).into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Vec<T>>::json_schema(g)
    }
}

struct SectionVisitor<T>(SectionKind, std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for SectionVisitor<T> {
    type Value = Section<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Section<T>, E> {
        Ok(Section::default())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Section<T>, A::Error> {
        let mut out = Section::default();
        let mut index = 0;
        loop {
            let strict = match mode() {
                Mode::Strict => true,
                Mode::Top => false,
                Mode::Item(kind, i) => kind == self.0 && i == index,
            };
            if strict {
                match seq.next_element::<At<T>>()? {
                    Some(item) => {
                        out.positions.push(item.pos);
                        out.ids.push(None);
                        out.items.push(Some(item));
                    }
                    None => break,
                }
            } else {
                match seq.next_element::<At<IdOnly>>()? {
                    Some(item) => {
                        out.positions.push(item.pos);
                        out.ids.push(item.value.0);
                        out.items.push(None);
                    }
                    None => break,
                }
            }
            index += 1;
        }
        Ok(out)
    }
}

fn section<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    kind: SectionKind,
) -> Result<Section<T>, D::Error> {
    d.deserialize_any(SectionVisitor(kind, std::marker::PhantomData))
}

/// Reads an item's `id` if it is a map with a string id; accepts anything.
struct IdOnly(Option<String>);

impl<'de> Deserialize<'de> for IdOnly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IdOnly;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdOnly, A::Error> {
                let mut id = None;
                while let Some(key) = map.next_key::<Scalar>()? {
                    if key.0.as_deref() == Some("id") {
                        id = map.next_value::<Scalar>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(IdOnly(id))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdOnly, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IdOnly(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<IdOnly, E> {
                Ok(IdOnly(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<IdOnly, E> {
                Ok(IdOnly(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<IdOnly, E> {
                Ok(IdOnly(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<IdOnly, E> {
                Ok(IdOnly(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<IdOnly, E> {
                Ok(IdOnly(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<IdOnly, E> {
                Ok(IdOnly(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<IdOnly, E> {
                Ok(IdOnly(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A scalar as a string, or `None` for anything else (which is skipped).
struct Scalar(Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

const TOP_FIELDS: &[&str] = &["settings", "customers", "services", "checks"];

impl<'de> Deserialize<'de> for RawFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a checks file: a map with settings, customers, services and checks")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawFile, E> {
                Ok(RawFile::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFile, A::Error> {
                let mut file = RawFile::default();
                let top = !matches!(mode(), Mode::Item(..));
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "settings" if top => file.settings = map.next_value()?,
                        "customers" => {
                            file.customers = map.next_value_seed(SectionSeed(
                                SectionKind::Customers,
                                Default::default(),
                            ))?
                        }
                        "services" => {
                            file.services = map.next_value_seed(SectionSeed(
                                SectionKind::Services,
                                Default::default(),
                            ))?
                        }
                        "checks" => {
                            file.checks = map.next_value_seed(SectionSeed(
                                SectionKind::Checks,
                                Default::default(),
                            ))?
                        }
                        other if top && !TOP_FIELDS.contains(&other) => {
                            return Err(de::Error::unknown_field(other, TOP_FIELDS));
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(file)
            }
        }
        d.deserialize_any(V)
    }
}

struct SectionSeed<T>(SectionKind, std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> de::DeserializeSeed<'de> for SectionSeed<T> {
    type Value = Section<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Section<T>, D::Error> {
        section(d, self.0)
    }
}
