//! The subscribers' pages in English.

use super::Words;

pub(super) static WORDS: Words = Words {
    title: "Status updates",
    confirm_ask: "Confirm that {email} should receive {brand}'s status updates.",
    confirm_button: "Confirm the subscription",
    confirmed: "Done: {email} will receive {brand}'s status updates.",
    unsubscribe_ask: "Stop sending {brand}'s status updates to {email}?",
    unsubscribe_button: "Unsubscribe",
    unsubscribed: "Done: {email} will no longer receive {brand}'s updates.",
    manage_ask: "Choose which of {brand}'s services you hear about at {email}.",
    manage_all: "All of them, including any added later",
    manage_button: "Save",
    managed: "Saved: {email} will hear about the services chosen.",
    not_subscribed: "{email} is not subscribed to {brand}'s updates.",
    invalid: "This link is not valid. Copy the whole link from the mail, or ask for a new one.",
    revoked: "This link is no longer valid: use the one in the latest mail.",
    trouble: "We could not save the change. Please try again in a few minutes.",
    check_inbox: "Check your inbox: if {email} can get {brand}'s status updates, we have sent it a link to confirm. You will get nothing else until you confirm.",
    not_an_address: "That does not look like an email address. Go back and type it again.",
    busy: "We are receiving many subscriptions at once. Please try again in a few minutes.",
};
