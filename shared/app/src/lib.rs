//! The application layer, between the shells (the Lambda functions, the CLI) and the adapters
//! (stores, channels): what every shell does, written once.
//!
//! - [`checks::Checks`]: a checks file with its customers' templates, loaded in one place;
//! - [`transition::transition`]: load the state, run a pure step (`evaluate`, `act`), render,
//!   commit conditional on the version read, and retry conflicts with one policy;
//! - [`round::Round`]: the one round every evaluator runs (the alert function, the local
//!   runner): evaluate, hand the messages to delivery, publish the status pages that changed;
//! - [`deliver::deliver`]: deliver every pending message to every channel, recording each
//!   delivery per message and channel;
//! - [`on_call`]: the operators' paging and chat channels of the checks file in force;
//! - [`customer_mail::EmailChannel`]: customer mail to each confirmed subscriber, claimed per
//!   mail, with the bounce policy;
//! - [`bundle`] and [`live::LiveChecks`]: a checks file published to S3 (`atalaya
//!   publish-checks`), picked up by the functions within a minute, a bad version refused.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod acknowledge;
pub mod alive;
pub mod bundle;
pub mod checks;
pub mod customer_mail;
pub mod deliver;
pub mod drift;
mod episode;
pub mod evaluation;
mod handover;
pub mod heartbeat;
mod hours;
pub mod live;
pub mod on_call;
pub mod operator_action;
pub mod report;
pub mod rollup_job;
pub mod round;
pub mod status_site;
pub mod subscriber_list;
pub mod subscriptions;
pub mod transition;

pub use checks::{Checks, LoadError};
pub use customer_mail::EmailChannel;
pub use deliver::{deliver, deliver_lane, Delivered};
pub use evaluation::{evaluate_batch, Batch, Evaluated};
pub use live::{LiveChecks, Refresh};
pub use round::{Handoff, Round, RoundError};
pub use transition::{
    transition, transition_in, transition_owned, Mode, Transition, TransitionError,
};
