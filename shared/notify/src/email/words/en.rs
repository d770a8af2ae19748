//! Customer mail's own words in English.

use super::Words;

pub(super) static WORDS: Words = Words {
    why: "You receive this because you subscribed to status updates from {brand}.",
    why_confirm: "You receive this because someone asked for {brand}'s status updates at this address; nothing more is sent unless it is confirmed.",
    manage: "Choose which services you hear about",
    unsubscribe: "Unsubscribe",
    status_page: "Status page",
    confirm: "Confirm the subscription",
    confirm_subject: "Confirm your subscription to {brand} status updates",
    confirm_body: "Hello,\n\nSomeone (we hope you) asked to receive {brand}'s status updates at this address about: {list}.\n\nTo start receiving them, confirm the subscription with the link below. If it was not you, ignore this mail: nothing more will be sent.",
};
