//! Subscribers' links: what a link does (confirm, unsubscribe, manage) and for whom, signed with
//! HMAC-SHA256 under a key kept out of the checks file. A link never expires (a mail read a year
//! later still unsubscribes) but can be revoked: it names the subscriber's token version, and
//! raising that version voids every link sent before.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkAction {
    Confirm,
    Unsubscribe,
    /// Choose the services heard about.
    Manage,
}

impl LinkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Confirm => "confirm",
            LinkAction::Unsubscribe => "unsubscribe",
            LinkAction::Manage => "manage",
        }
    }

    fn from_str(s: &str) -> Option<LinkAction> {
        [
            LinkAction::Confirm,
            LinkAction::Unsubscribe,
            LinkAction::Manage,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// The signing key: at least 32 bytes.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)") // never printed
    }
}

/// The shortest key accepted, in bytes.
pub const KEY_BYTES: usize = 32;

impl Key {
    pub fn new(bytes: Vec<u8>) -> Result<Key, String> {
        if bytes.len() < KEY_BYTES {
            return Err(format!(
                "the signing key has {} bytes; it needs at least {KEY_BYTES} (e.g. `openssl rand -hex 32`)",
                bytes.len()
            ));
        }
        Ok(Key(bytes))
    }

    /// A key as kept in a parameter, secret or key file: its text, surrounding white space
    /// left out.
    pub fn from_text(text: &str) -> Result<Key, String> {
        Key::new(text.trim().as_bytes().to_vec())
    }

    /// A secret of its own for `label` (a heartbeat's token): URL-safe, 43 characters, the
    /// same for the same key and label, unguessable without the key.
    pub fn derive(&self, label: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(label.as_bytes()).finalize().into_bytes())
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(payload);
        mac
    }
}

/// A link's meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub action: LinkAction,
    pub subscriber: String,
    /// The subscriber's token version when the link was made.
    pub version: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the link is not one of ours (malformed)")]
    Malformed,
    #[error("the link's signature does not match (forged or altered)")]
    Forged,
}

impl Token {
    fn payload(&self) -> String {
        format!(
            "{}.{}.{}",
            self.action.as_str(),
            self.subscriber,
            self.version
        )
    }

    /// The token as it goes in a link: URL-safe, no padding.
    pub fn sign(&self, key: &Key) -> String {
        let payload = self.payload();
        let tag = key.mac(payload.as_bytes()).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The token in `text`, if `key` signed it (compared in constant time).
    pub fn verify(text: &str, key: &Key) -> Result<Token, TokenError> {
        let (payload, tag) = text.trim().split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        key.mac(&payload)
            .verify_slice(&tag)
            .map_err(|_| TokenError::Forged)?;
        let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
        let mut parts = payload.splitn(3, '.');
        let (Some(action), Some(subscriber), Some(version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        Ok(Token {
            action: LinkAction::from_str(action).ok_or(TokenError::Malformed)?,
            subscriber: subscriber.to_string(),
            version: version.parse().map_err(|_| TokenError::Malformed)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: u8) -> Key {
        Key::new(vec![c; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_signed_token_reads_back_and_any_change_is_refused() {
        let t = Token {
            action: LinkAction::Unsubscribe,
            subscriber: "sub-0123456789abcdef0123".into(),
            version: 2,
        };
        let text = t.sign(&key(7));
        assert_eq!(Token::verify(&text, &key(7)), Ok(t.clone()));
        assert_eq!(Token::verify(&text, &key(8)), Err(TokenError::Forged));
        // Another action or subscriber with the same signature.
        let (_, tag) = text.split_once('.').unwrap_or_default();
        for payload in [
            "confirm.sub-0123456789abcdef0123.2",
            "unsubscribe.sub-x.2",
            "unsubscribe.sub-0123456789abcdef0123.3",
        ] {
            let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(payload));
            assert_eq!(
                Token::verify(&forged, &key(7)),
                Err(TokenError::Forged),
                "{payload}"
            );
        }
        for junk in ["", ".", "abc", "a.b.c", &text[1..]] {
            assert!(Token::verify(junk, &key(7)).is_err(), "{junk}");
        }
        assert!(!text.contains('=') && !text.contains('/') && !text.contains('+'));
    }

    #[test]
    fn a_short_key_is_refused_and_never_printed() {
        assert!(Key::new(vec![1; 16]).is_err());
        assert_eq!(format!("{:?}", key(65)), "Key(…)");
    }
}
