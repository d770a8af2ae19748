//! DNS probes: one query to a nameserver, its response code and answers judged as they are
//! (no cache, no search domains, no /etc/hosts).

use crate::net::{io_reason, ms_since};
use crate::{Engine, Judgement, Step, Trace};
use atalaya_core::{DnsCheck, Reason, RecordType};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType as Rt};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn wire_type(t: RecordType) -> Rt {
    match t {
        RecordType::A => Rt::A,
        RecordType::Aaaa => Rt::AAAA,
        RecordType::Cname => Rt::CNAME,
        RecordType::Mx => Rt::MX,
        RecordType::Txt => Rt::TXT,
        RecordType::Ns => Rt::NS,
    }
}

/// An answer as written in `answers_include`: addresses, names without the final dot,
/// `10 mx.example` for MX, the joined strings for TXT.
fn show(data: &RData) -> Option<String> {
    let name = |n: &Name| n.to_ascii().trim_end_matches('.').to_ascii_lowercase();
    Some(match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(c) => name(&c.0),
        RData::NS(n) => name(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference, name(&mx.exchange)),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<_>>()
            .join(""),
        _ => return None,
    })
}

fn normalize(answer: &str) -> String {
    answer.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl Engine {
    async fn exchange_dns(
        &self,
        server: SocketAddr,
        query: &[u8],
        platform: bool,
        trace: &mut Trace,
    ) -> Step<Message> {
        let fail = |e: std::io::Error| {
            Judgement::down(
                io_reason(&e),
                format!("query to nameserver {server} failed: {e}"),
            )
        };
        let socket = self.connector.udp(server).await.map_err(fail)?;
        socket.send(query).await.map_err(fail)?;
        let mut buf = vec![0u8; 4096];
        let response = loop {
            let n = socket.recv(&mut buf).await.map_err(fail)?;
            match Message::from_vec(&buf[..n]) {
                // Anything that is not the answer to this query (stray or spoofed) is ignored.
                Ok(m) if m.metadata.id == query_id(query) => break m,
                _ => continue,
            }
        };
        if !response.metadata.truncation {
            return Ok(response);
        }
        // Truncated: ask again over TCP (RFC 7766), through the guard like any connection unless
        // it is the platform's own resolver.
        let mut stream = if platform {
            self.dial_platform(server.ip(), server.port(), trace)
                .await?
        } else {
            self.dial(&[server.ip()], server.port(), trace).await?
        };
        trace.phase = "dns";
        let len = u16::try_from(query.len()).unwrap_or(u16::MAX);
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        stream.write_all(&framed).await.map_err(fail)?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.map_err(fail)?;
        let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).await.map_err(fail)?;
        Message::from_vec(&body).map_err(|e| {
            Judgement::down(
                Reason::Protocol,
                format!("invalid DNS response from {server}: {e}"),
            )
        })
    }

    pub(crate) async fn dns(&self, d: &DnsCheck, trace: &mut Trace) -> Step<Judgement> {
        // A nameserver written in the checks file goes through the guard; the platform's own
        // (the system resolver configuration) is trusted.
        let (server, platform) = match (d.nameserver, self.dns_servers.first()) {
            (Some(s), _) => (s, false),
            (None, Some(s)) => (*s, true),
            (None, None) => {
                return Err(Judgement::down(
                    Reason::CheckError,
                    "no nameserver: set dns.nameserver or configure the system resolver (/etc/resolv.conf) where the probes run".into(),
                ))
            }
        };
        if let (false, Err(kind)) = (platform, self.guard.check(server.ip())) {
            return Err(Judgement::down(
                Reason::Blocked,
                format!(
                    "refused to query nameserver {server}: {kind} addresses are blocked; {}",
                    crate::lint::remedy(kind)
                ),
            ));
        }
        let name = Name::from_ascii(&d.name)
            .map_err(|e| Judgement::down(Reason::Dns, format!("invalid name {:?}: {e}", d.name)))?;
        let mut message = Message::query();
        message.add_query(Query::query(name, wire_type(d.record_type)));
        message.metadata.recursion_desired = true;
        let query = message.to_vec().map_err(|e| {
            Judgement::down(Reason::Protocol, format!("cannot encode the query: {e}"))
        })?;

        trace.phase = "dns";
        let t = Instant::now();
        let result = self.exchange_dns(server, &query, platform, trace).await;
        trace.add_dns(ms_since(t));
        let response = result?;

        let rcode = match u16::from(response.metadata.response_code) {
            0 => "NOERROR".to_string(),
            1 => "FORMERR".to_string(),
            2 => "SERVFAIL".to_string(),
            3 => "NXDOMAIN".to_string(),
            4 => "NOTIMP".to_string(),
            5 => "REFUSED".to_string(),
            n => format!("RCODE{n}"),
        };
        let wanted = wire_type(d.record_type);
        let answers: Vec<String> = response
            .answers
            .iter()
            .filter(|r| r.record_type() == wanted)
            .filter_map(|r| show(&r.data))
            .collect();
        let rtype = d.record_type.as_str();
        let expected_rcode = d.rcode.as_deref().unwrap_or("NOERROR");
        if rcode != expected_rcode {
            return Err(Judgement::down(
                Reason::Dns,
                format!(
                    "{rtype} {}: rcode {rcode}, expected {expected_rcode} (nameserver {server})",
                    d.name
                ),
            ));
        }
        if expected_rcode == "NOERROR" && d.rcode.is_none() && answers.is_empty() {
            return Err(Judgement::down(
                Reason::Dns,
                format!(
                    "{rtype} {}: no {rtype} records in the answer (NODATA, nameserver {server})",
                    d.name
                ),
            ));
        }
        let missing: Vec<&String> = d
            .answers_include
            .iter()
            .filter(|want| !answers.iter().any(|a| normalize(a) == normalize(want)))
            .collect();
        if !missing.is_empty() {
            return Err(Judgement::down(
                Reason::Assertion,
                format!(
                    "{rtype} {}: answers {answers:?} do not include {missing:?}",
                    d.name
                ),
            ));
        }
        Ok(Judgement::up(if answers.is_empty() {
            format!("{rtype} {}: {rcode}", d.name)
        } else {
            format!("{rtype} {}: {}", d.name, answers.join(", "))
        }))
    }
}

fn query_id(query: &[u8]) -> u16 {
    u16::from_be_bytes([
        query.first().copied().unwrap_or(0),
        query.get(1).copied().unwrap_or(0),
    ])
}
