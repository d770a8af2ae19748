//! A DNS server on 127.0.0.1 with fixed records: real DNS messages over UDP (and TCP when a
//! query asks for a big answer), NXDOMAIN for everything else.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::{Ipv4Addr, SocketAddr};
use tokio::net::UdpSocket;

fn records(name: &str, rtype: RecordType) -> Option<Vec<RData>> {
    let n = |s: &str| Name::from_ascii(s).unwrap();
    let a = |s: &str| RData::A(A(s.parse::<Ipv4Addr>().unwrap()));
    Some(match (name.trim_end_matches('.'), rtype) {
        ("acme.test", RecordType::A) => vec![a("203.0.113.10"), a("203.0.113.11")],
        ("acme.test", RecordType::MX) => vec![RData::MX(MX::new(10, n("mail.acme.test.")))],
        ("acme.test", RecordType::TXT) => vec![RData::TXT(TXT::new(vec!["v=spf1 -all".into()]))],
        ("acme.test", RecordType::AAAA) => vec![RData::AAAA(AAAA("2001:db8::10".parse().unwrap()))],
        ("acme.test", RecordType::NS) => vec![RData::NS(NS(n("ns1.acme.test.")))],
        ("www.acme.test", RecordType::CNAME) => vec![RData::CNAME(CNAME(n("acme.test.")))],
        // Names the HTTP tests dial: one loopback (allowed), one that rebinds to the metadata
        // address, one to a private address.
        ("shop.test", RecordType::A) => vec![a("127.0.0.1")],
        ("rebind.test", RecordType::A) => vec![a("169.254.169.254")],
        ("private.test", RecordType::A) => vec![a("10.0.0.5")],
        // AAAA records carrying the metadata address in IPv6 forms.
        ("nat64-local.test", RecordType::AAAA) => {
            vec![RData::AAAA(AAAA("64:ff9b:1::a9fe:a9fe".parse().unwrap()))]
        }
        ("teredo.test", RecordType::AAAA) => vec![RData::AAAA(AAAA(
            "2001:0:4136:e378:8000:63bf:5601:5601".parse().unwrap(),
        ))],
        ("empty.test", _) => vec![],
        // An answer that would clear a terminal and turn text around if shown raw.
        ("evil.acme.test", RecordType::TXT) => vec![RData::TXT(TXT::new(vec![
            "ok\x1b[2J\r\nFAKE: all good \u{202e}gnp.exe".into(),
        ]))],
        ("big.acme.test", RecordType::TXT) => (0..40)
            .map(|i| RData::TXT(TXT::new(vec![format!("record {i} {}", "x".repeat(80))])))
            .collect(),
        (
            "acme.test" | "www.acme.test" | "shop.test" | "rebind.test" | "private.test"
            | "nat64-local.test" | "teredo.test",
            _,
        ) => vec![],
        _ => return None,
    })
}

/// Over UDP, `big.acme.test` is answered truncated (TC set, no records), so clients retry on TCP.
fn answer_udp(query: &Message) -> Message {
    let full = answer(query);
    if query
        .queries
        .first()
        .is_some_and(|q| q.name().to_ascii().starts_with("big."))
    {
        let mut cut = Message::response(full.metadata.id, full.metadata.op_code);
        cut.metadata.truncation = true;
        cut.metadata.recursion_desired = full.metadata.recursion_desired;
        cut.add_queries(full.queries.clone());
        return cut;
    }
    full
}

fn answer(query: &Message) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.message_type = MessageType::Response;
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    let Some(q) = query.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    response.add_query(q.clone());
    match records(&q.name().to_ascii(), q.query_type()) {
        Some(list) => {
            for data in list {
                response.add_answer(Record::from_rdata(q.name().clone(), 60, data));
            }
        }
        None => response.metadata.response_code = ResponseCode::NXDomain,
    }
    response
}

/// Starts the server; answers until the test ends.
pub async fn server() -> SocketAddr {
    server_on("127.0.0.1:0").await.unwrap()
}

pub async fn server_on(bind: &str) -> std::io::Result<SocketAddr> {
    // UDP and TCP on the same port. With port 0 the UDP port is picked first, and another socket
    // may hold that port for TCP at that moment: pick again.
    let mut attempt = 0;
    let (socket, addr, tcp) = loop {
        let socket = UdpSocket::bind(bind).await?;
        let addr = socket.local_addr()?;
        match tokio::net::TcpListener::bind(addr).await {
            Ok(tcp) => break (socket, addr, tcp),
            Err(_) if attempt < 20 && bind.ends_with(":0") => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
                if s.read_exact(&mut buf).await.is_err() {
                    return;
                }
                let Ok(query) = Message::from_vec(&buf) else {
                    return;
                };
                if let Ok(bytes) = answer(&query).to_vec() {
                    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&bytes);
                    let _ = s.write_all(&framed).await;
                }
            });
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                break;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if let Ok(bytes) = answer_udp(&query).to_vec() {
                let _ = socket.send_to(&bytes, from).await;
            }
        }
    });
    Ok(addr)
}
