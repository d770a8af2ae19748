//! SNS: one topic per audience; subscribers filter on the message attributes.

use atalaya_core::evaluate::Audience;
use atalaya_core::Message;
use aws_sdk_sns::types::MessageAttributeValue;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, thiserror::Error)]
#[error("publishing {id} to SNS: {detail}{}", if *retryable { " (retryable)" } else { "" })]
pub struct SnsError {
    pub id: String,
    pub retryable: bool,
    pub detail: String,
}

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

/// The SMS variant: the subject alone (customers) or subject and first line (operators), short.
fn sms(m: &Message) -> String {
    let mut text = m.subject.clone();
    if text.chars().count() > 140 {
        text = text.chars().take(139).collect::<String>() + "…";
    }
    text
}

pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    operators_topic: String,
    customers_topic: String,
}

impl SnsPublisher {
    /// `endpoint` is for tests (moto); retries and timeouts as in [`atalaya_aws::sdk_config`].
    pub async fn connect(
        region: &str,
        endpoint: Option<&str>,
        operators_topic: String,
        customers_topic: String,
    ) -> Self {
        let config = atalaya_aws::sdk_config(region, endpoint).await;
        SnsPublisher {
            client: aws_sdk_sns::Client::new(&config),
            operators_topic,
            customers_topic,
        }
    }

    pub fn client(&self) -> &aws_sdk_sns::Client {
        &self.client
    }

    /// Publishes one message: email-safe subject, a JSON message structure with `default`,
    /// `email` and `sms` variants, and every attribute as a String message attribute.
    pub async fn publish(&self, m: &Message) -> Result<String, SnsError> {
        let topic = match m.topic {
            Audience::Operators => &self.operators_topic,
            Audience::Customers => &self.customers_topic,
        };
        let structure = serde_json::json!({ "default": m.body, "email": m.body, "sms": sms(m) });
        let mut request = self
            .client
            .publish()
            .topic_arn(topic)
            .subject(email_subject(&m.subject))
            .message_structure("json")
            .message(structure.to_string());
        for (k, v) in &m.attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| SnsError {
                    id: m.id.clone(),
                    retryable: false,
                    detail: e.to_string(),
                })?;
            request = request.message_attributes(k, value);
        }
        let out = request.send().await.map_err(|e| {
            let f = atalaya_aws::classify(&e);
            SnsError {
                id: m.id.clone(),
                retryable: f.retryable,
                detail: f.detail,
            }
        })?;
        Ok(out.message_id.unwrap_or_default())
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
}
