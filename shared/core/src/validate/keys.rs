//! Every unknown key in one pass, and the references of items that did not parse.
//!
//! serde stops an item at its first unknown key, and an item that does not parse is left out of
//! the checks that follow (its `service:` is never looked up). So a file with two misspelt keys in
//! a check and an unknown service took three rounds to get right. Here the file is read once more
//! as a plain tree of keys and values with their positions, walked against the file's own JSON
//! Schema (the one editors use, made from the same types serde reads, so it is as strict as they
//! are): every key the schema does not know is reported, each with the closest known one; and the
//! references of the items left out (a check's `service`, a service's `customer` and
//! `depends_on`) are checked against the ids the file has.

use super::{closest, unknown, Errs};
use crate::at::At;
use crate::raw::{RawFile, Section};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// A YAML value as written: what the walk needs, with the position of every key.
pub(super) enum Node {
    Map(Vec<(At<Key>, At<Node>)>),
    Seq(Vec<At<Node>>),
    Scalar(String),
}

/// A mapping's key, whatever scalar it is written as (`200:` is a key too).
pub(super) struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Node::deserialize(d)? {
            Node::Scalar(s) => Ok(Key(s)),
            _ => Ok(Key(String::new())),
        }
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(String::new()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(String::new()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(n) = seq.next_element::<At<Node>>()? {
            out.push(n);
        }
        Ok(Node::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<At<Key>>()? {
            out.push((k, map.next_value::<At<Node>>()?));
        }
        Ok(Node::Map(out))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

impl Node {
    fn get(&self, key: &str) -> Option<&At<Node>> {
        match self {
            Node::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.value.0 == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn scalar(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// The file as a tree, if it reads as YAML at all (else the parser's error says why).
pub(super) fn tree(text: &str) -> Option<Node> {
    serde_saphyr::from_str::<Node>(text).ok()
}

/// The schemas `s` stands for: itself, or those it refers to or allows (`$ref`, `anyOf`, …).
fn alternatives<'a>(s: &'a Value, root: &'a Value) -> Vec<&'a Value> {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        return root["$defs"]
            .get(name)
            .map(|d| alternatives(d, root))
            .unwrap_or_default();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(list) = s.get(key).and_then(Value::as_array) {
            return list.iter().flat_map(|a| alternatives(a, root)).collect();
        }
    }
    vec![s]
}

type Found = Vec<(crate::Pos, String, String)>;

fn walk(node: &Node, schema: &Value, root: &Value, subject: &str, found: &mut Found) {
    let alts = alternatives(schema, root);
    match node {
        Node::Map(entries) => {
            let objects: Vec<&Value> = alts
                .into_iter()
                .filter(|a| {
                    a.get("properties").is_some() || a.get("additionalProperties").is_some()
                })
                .collect();
            if objects.is_empty() {
                return;
            }
            let strict = objects
                .iter()
                .all(|a| a.get("additionalProperties") == Some(&Value::Bool(false)));
            let known: Vec<&str> = objects
                .iter()
                .filter_map(|a| a.get("properties").and_then(Value::as_object))
                .flat_map(|p| p.keys().map(String::as_str))
                .collect();
            for (key, value) in entries {
                let name = key.value.0.as_str();
                if let Some(child) = objects.iter().find_map(|a| a["properties"].get(name)) {
                    walk(&value.value, child, root, subject, found);
                } else if strict {
                    let message = match empty_parent(entries, &objects, name, root) {
                        Some(parent) => format!(
                            "unknown field `{name}`, expected one of {}; `{parent}:` above it is empty: indent `{name}` under `{parent}:`",
                            known.join(", ")
                        ),
                        None => unknown_field(name, &known),
                    };
                    found.push((key.pos, subject.to_string(), message));
                } else if let Some(extra) = objects
                    .iter()
                    .find_map(|a| a.get("additionalProperties").filter(|v| v.is_object()))
                {
                    walk(&value.value, extra, root, subject, found);
                }
            }
        }
        Node::Seq(items) => {
            if let Some(each) = alts.iter().find_map(|a| a.get("items")) {
                for item in items {
                    walk(&item.value, each, root, subject, found);
                }
            }
        }
        Node::Scalar(_) => {}
    }
}

/// The top level: each section's items are walked with their own subject (`check home`).
pub(super) fn walk_file(root: &Node, errs: &mut Errs) {
    let schema = crate::json_schema();
    let mut found = Vec::new();
    let Node::Map(entries) = root else {
        return;
    };
    let props = &schema["properties"];
    let known: Vec<&str> = props
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for (key, value) in entries {
        let name = key.value.0.as_str();
        let noun = match name {
            "checks" => "check",
            "services" => "service",
            "customers" => "customer",
            "settings" => {
                walk(
                    &value.value,
                    &props["settings"],
                    &schema,
                    "settings",
                    &mut found,
                );
                continue;
            }
            _ => {
                found.push((key.pos, String::new(), unknown_field(name, &known)));
                continue;
            }
        };
        let (Node::Seq(items), Some(each)) = (&value.value, props[name].get("items")) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let subject = match item.get("id").and_then(|v| v.scalar()) {
                Some(id) if !id.is_empty() => format!("{noun} {id}"),
                _ => format!("{noun} #{}", i + 1),
            };
            walk(&item.value, each, &schema, &subject, &mut found);
        }
    }
    if found.is_empty() {
        return;
    }
    errs.list
        .retain(|e| !e.message.starts_with("unknown field `"));
    for (pos, subject, message) in found {
        errs.push(pos, &subject, "", message);
    }
}

/// The references of the items that did not parse (and so were left out of the checks of
/// references): a check's `service`, a service's `customer` and `depends_on`.
pub(super) fn dropped_references(root: &Node, raw: &RawFile, errs: &mut Errs) {
    let ids = |section: &[Option<String>]| -> HashSet<String> {
        section.iter().flatten().cloned().collect()
    };
    let services = ids(&raw.services.ids);
    let customers = ids(&raw.customers.ids);
    let items = |name: &str| -> Vec<&Node> {
        match root.get(name).map(|v| &v.value) {
            Some(Node::Seq(items)) => items.iter().map(|i| &i.value).collect(),
            _ => Vec::new(),
        }
    };
    let mut refer = |node: &Node, noun: &str, field: &str, known: &HashSet<String>, what: &str| {
        let subject = match node.get("id").and_then(|v| v.scalar()) {
            Some(id) => format!("{noun} {id}"),
            None => noun.to_string(),
        };
        let mut one = |v: &At<Node>| {
            if let Some(value) = v.scalar().filter(|v| !known.contains(*v)) {
                errs.push(v.pos, &subject, field, unknown(what, value, known));
            }
        };
        match node.get(field).map(|v| (v, &v.value)) {
            Some((_, Node::Seq(list))) => list.iter().for_each(&mut one),
            Some((v, _)) => one(v),
            None => {}
        }
    };
    for (i, check) in items("checks").into_iter().enumerate() {
        if dropped(&raw.checks, i) {
            refer(check, "check", "service", &services, "service");
        }
    }
    for (i, service) in items("services").into_iter().enumerate() {
        if dropped(&raw.services, i) {
            refer(service, "service", "customer", &customers, "customer");
            refer(service, "service", "depends_on", &services, "service");
        }
    }
}

/// A sibling key left empty whose own block takes `name`: the mistake is `name`'s indentation
/// (`http:` then `url:` at the same column).
fn empty_parent<'a>(
    entries: &'a [(At<Key>, At<Node>)],
    objects: &[&Value],
    name: &str,
    root: &Value,
) -> Option<&'a str> {
    entries.iter().find_map(|(k, v)| {
        let empty = matches!(&v.value, Node::Scalar(s) if s.is_empty());
        let schema = objects
            .iter()
            .find_map(|a| a["properties"].get(&k.value.0))?;
        let takes = alternatives(schema, root)
            .iter()
            .any(|a| a.get("properties").and_then(|p| p.get(name)).is_some());
        (empty && takes).then_some(k.value.0.as_str())
    })
}

/// serde's words for an unknown key, with the closest known one.
fn unknown_field(name: &str, known: &[&str]) -> String {
    let mut message = format!(
        "unknown field `{name}`, expected one of {}",
        known.join(", ")
    );
    if let Some(c) = closest(name, known.iter().copied()) {
        message.push_str(&format!("; did you mean `{c}`?"));
    }
    message
}

/// Whether item `i` of `s` did not parse.
fn dropped<T>(s: &Section<T>, i: usize) -> bool {
    s.items.get(i).is_some_and(Option::is_none)
}
