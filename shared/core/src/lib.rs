//! Atalaya's functional core: the checks-file model, its validation, and the probe-result shape.
//!
//! Nothing here does I/O beyond reading the checks file's text handed to it: no network, no clock,
//! no async. Time, when needed, is a parameter.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod at;
pub mod config;
pub mod cost;
pub mod duration;
pub mod email;
pub mod error;
pub mod evaluate;
mod fields;
pub mod kinds;
pub mod message;
pub mod names;
pub mod oncall;
pub mod partition;
pub mod raw;
pub mod result;
pub mod rollup;
pub mod schedule;
pub mod screen;
pub mod secrets;
pub mod source;
pub mod template;
pub mod text;
mod validate;

pub use at::{At, Pos};
pub use config::*;
pub use duration::{parse_duration, parse_size, HumanDuration};
pub use error::{ConfigError, ConfigErrors};
pub use message::{Message, Renderer};
pub use names::Names;
pub use result::{Outcome, Phases, ProbeResult, Reason};
pub use template::{EnvTemplate, Reference, Resolved, Source, UnsetVariable, UrlValueError};
pub use validate::{load_str, unreadable, Target};

/// The JSON Schema of the checks file, for editors (yaml-language-server) and CI linters.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(raw::RawFile);
    serde_json::to_value(schema).unwrap_or_default()
}
