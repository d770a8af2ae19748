//! SNS: one topic per audience; subscribers filter on the message attributes. SNS's own limits
//! live here: an ASCII subject under 100 characters, a message of at most 256 KB (the JSON
//! structure with its email and SMS variants included).

use crate::{Channel, ChannelError};
use atalaya_core::evaluate::Audience;
use atalaya_core::Message;
use aws_sdk_sns::types::MessageAttributeValue;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use unicode_normalization::UnicodeNormalization;

/// SNS refuses a message over 256 KB; each of the two full variants (`default`, `email`) gets
/// at most this much of the body, leaving room for the JSON around them.
const MAX_VARIANT: usize = 120 * 1024;

/// Letters whose ASCII form is not the bare letter: `ñ` is `ny` (never `n`: "año" must not
/// read "ano"), `ß` is `ss`, and so on.
const SPELLED: [(char, &str); 20] = [
    ('ñ', "ny"),
    ('Ñ', "Ny"),
    ('ß', "ss"),
    ('æ', "ae"),
    ('Æ', "AE"),
    ('œ', "oe"),
    ('Œ', "OE"),
    ('ø', "o"),
    ('Ø', "O"),
    ('ł', "l"),
    ('Ł', "L"),
    ('đ', "d"),
    ('Đ', "D"),
    ('€', "EUR"),
    ('–', "-"),
    ('—', "-"),
    ('‘', "'"),
    ('’', "'"),
    ('“', "\""),
    ('”', "\""),
];

/// An email-safe SNS subject: ASCII only, one line, under 100 characters, starting with a
/// letter, digit or punctuation (SNS's rules). Accents are dropped (`Envío` → `Envio`), some
/// letters spelled out (`ñ` → `ny`), anything else without an ASCII form left out. The built-in
/// subjects are written in words that need none of this.
pub fn email_subject(subject: &str) -> String {
    let spelled: String = subject
        .chars()
        .map(|c| match SPELLED.iter().find(|(k, _)| *k == c) {
            Some((_, s)) => s.to_string(),
            None if c == '…' => "...".to_string(),
            None => c.to_string(),
        })
        .collect();
    let ascii: String = spelled
        .nfd()
        .filter(|c| c.is_ascii())
        .map(|c| if c.is_ascii_control() { ' ' } else { c })
        .collect();
    let mut out = ascii.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.is_empty() {
        out = "Atalaya".into();
    }
    out.truncate(99);
    out
}

/// The SMS variant: the subject, short.
fn sms(m: &Message) -> String {
    let mut text = m.subject.clone();
    if text.chars().count() > 140 {
        text = text.chars().take(139).collect::<String>() + "…";
    }
    text
}

/// A body cut to at most `max` bytes on a character boundary, marked when cut.
fn fit(body: &str, max: usize) -> String {
    if body.len() <= max {
        return body.to_string();
    }
    let mut end = max - '…'.len_utf8();
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &body[..end])
}

/// What one publish sends (pure: what [`SnsChannel`] passes to the SDK).
#[derive(Debug, Clone, PartialEq)]
pub struct SnsRequest {
    pub topic: Audience,
    pub subject: String,
    /// The `MessageStructure=json` document: `default`, `email`, `sms`.
    pub message: String,
    pub attributes: BTreeMap<String, String>,
}

/// The request for `m`, within SNS's limits.
pub fn request(m: &Message) -> SnsRequest {
    let body = fit(&m.body, MAX_VARIANT);
    SnsRequest {
        topic: m.topic,
        subject: email_subject(&m.subject),
        message: serde_json::json!({ "default": body, "email": body, "sms": sms(m) }).to_string(),
        // The outbox id: the mailer reads the message back by it, and subscribers that keep
        // what they received can tell a redelivery.
        attributes: {
            let mut a = m.attributes.pairs();
            a.insert("id".into(), m.id.clone());
            a
        },
    }
}

pub struct SnsChannel {
    client: aws_sdk_sns::Client,
    operators_topic: String,
    customers_topic: String,
}

impl SnsChannel {
    /// `endpoint` is for tests (moto); retries and timeouts as in [`atalaya_aws::sdk_config`].
    pub async fn connect(
        region: &str,
        endpoint: Option<&str>,
        operators_topic: String,
        customers_topic: String,
    ) -> Self {
        let config = atalaya_aws::sdk_config(region, endpoint).await;
        SnsChannel::from_config(&config, operators_topic, customers_topic)
    }

    /// A channel over an SDK configuration the function already made.
    pub fn from_config(
        config: &aws_config::SdkConfig,
        operators_topic: String,
        customers_topic: String,
    ) -> Self {
        SnsChannel {
            client: aws_sdk_sns::Client::new(config),
            operators_topic,
            customers_topic,
        }
    }

    pub fn client(&self) -> &aws_sdk_sns::Client {
        &self.client
    }

    /// Publishes one message: email-safe subject, a JSON message structure with `default`,
    /// `email` and `sms` variants, and every attribute as a String message attribute.
    /// Returns SNS's message id.
    pub async fn publish(&self, m: &Message) -> Result<String, ChannelError> {
        let r = request(m);
        let topic = match r.topic {
            Audience::Operators => &self.operators_topic,
            Audience::Customers => &self.customers_topic,
        };
        let fail = |retryable: bool, detail: String| ChannelError {
            channel: "sns".into(),
            id: m.id.clone(),
            retryable,
            detail,
        };
        let mut call = self
            .client
            .publish()
            .topic_arn(topic)
            .subject(r.subject)
            .message_structure("json")
            .message(r.message);
        for (k, v) in &r.attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| fail(false, e.to_string()))?;
            call = call.message_attributes(k, value);
        }
        let out = call.send().await.map_err(|e| {
            let f = atalaya_aws::classify(&e);
            let fixable = e
                .as_service_error()
                .and_then(|s| aws_sdk_sns::error::ProvideErrorMetadata::code(s))
                .is_some_and(|c| SETUP.contains(&c));
            fail(f.retryable || fixable, f.detail)
        })?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// Errors that say the deployment is wrong (a topic gone, a permission or key missing), not the
/// message: once operators fix it the message goes through, so it stays pending (and the
/// `PublishFailures` alarm says so) instead of being given up.
const SETUP: [&str; 12] = [
    "NotFound",
    "NotFoundException",
    "AuthorizationError",
    "AuthorizationErrorException",
    "KMSAccessDenied",
    "KMSAccessDeniedException",
    "KMSDisabled",
    "KMSDisabledException",
    "KMSNotFound",
    "KMSNotFoundException",
    "KMSInvalidState",
    "KMSInvalidStateException",
];

impl Channel for SnsChannel {
    fn name(&self) -> &str {
        "sns"
    }

    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move { self.publish(m).await.map(|_| ()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_become_email_safe_ascii() {
        assert_eq!(
            email_subject("Envío: ha empezado el mantenimiento\nprogramado"),
            "Envio: ha empezado el mantenimiento programado"
        );
        assert_eq!(email_subject("日本"), "Atalaya");
        // A letter that is not a bare letter with an accent is spelled, never cut to another word.
        assert_eq!(email_subject("Año Nuevo: señal"), "Anyo Nuevo: senyal");
        assert_eq!(
            email_subject("¿Qué pasa? Straße – ok…"),
            "Que pasa? Strasse - ok..."
        );
        assert!(email_subject(&"x".repeat(300)).len() < 100);
    }

    #[test]
    fn a_huge_body_still_fits_one_publish() {
        let mut m = crate::memory::tests::message("big");
        m.body = "ñ".repeat(200_000);
        let r = request(&m);
        assert!(r.message.len() < 256 * 1024, "{}", r.message.len());
        let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
        assert!(v["email"].as_str().unwrap().ends_with('…'));
    }
}
