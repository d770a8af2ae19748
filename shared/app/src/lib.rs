//! The application layer, between the shells (the Lambda functions, the CLI) and the adapters
//! (stores, channels): what every shell does, written once.
//!
//! - [`checks::Checks`]: a checks file with its customers' templates, loaded in one place;
//! - [`transition::transition`]: load the state, run a pure step (`evaluate`, `act`), render,
//!   commit conditional on the version read, and retry conflicts with one policy;
//! - [`deliver::deliver`]: deliver every pending message to every channel, recording each
//!   delivery per message and channel.

pub mod checks;
pub mod deliver;
pub mod transition;

pub use checks::{Checks, LoadError};
pub use deliver::{deliver, Delivered};
pub use transition::{transition, Mode, Transition, TransitionError};
