//! The network guard: probes refuse addresses a customer-facing check has no business reaching
//! (loopback, private ranges, link-local and the cloud metadata address, ...) unless the checks
//! file opens them with `settings.allow_networks`.
//!
//! The guard judges the address actually dialled, after DNS resolution, so a name that resolves
//! to 169.254.169.254 (DNS rebinding) is caught, and every redirect hop dials through it again.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug, Default)]
pub struct Guard {
    allow: Vec<IpNet>,
}

/// The cloud metadata and credential endpoints: reachable only when listed exactly (a `/32` or
/// `/128` in `allow_networks`), never through a broader range.
const METADATA: [IpAddr; 6] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
];

impl Guard {
    pub fn new(allow: Vec<IpNet>) -> Self {
        Guard { allow }
    }

    /// A guard that allows every range (not the metadata endpoints); for tools that deliberately
    /// probe internal targets, and the platform's own resolver.
    pub fn permissive() -> Self {
        Guard {
            allow: vec![
                "0.0.0.0/0".parse().expect("valid"),
                "::/0".parse().expect("valid"),
            ],
        }
    }

    /// `Ok` when the address may be dialled; otherwise the kind of address it is. An IPv6
    /// address that carries an IPv4 one (mapped, compatible, translated, NAT64, 6to4, Teredo) is
    /// judged as that IPv4 address, for blocking and for the allow list alike: allowing an IPv6
    /// range never opens the IPv4 addresses written inside it.
    pub fn check(&self, ip: IpAddr) -> Result<(), &'static str> {
        let carried = embedded_v4(ip);
        if carried.is_empty() {
            return self.judge(ip);
        }
        for v4 in carried {
            self.judge(IpAddr::V4(v4)).map_err(|kind| match ip {
                IpAddr::V4(_) => kind,
                IpAddr::V6(_) => embedded_kind(kind),
            })?;
        }
        Ok(())
    }

    /// One address, as itself.
    fn judge(&self, ip: IpAddr) -> Result<(), &'static str> {
        if METADATA.contains(&ip) {
            let listed = self
                .allow
                .iter()
                .any(|n| n.prefix_len() == n.max_prefix_len() && n.addr() == ip);
            return if listed {
                Ok(())
            } else {
                Err(metadata_kind(ip))
            };
        }
        let Some(kind) = blocked_kind(ip) else {
            return Ok(());
        };
        if self.allow.iter().any(|n| n.contains(&ip)) {
            Ok(())
        } else {
            Err(kind)
        }
    }
}

fn metadata_kind(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) if v4 == Ipv4Addr::new(169, 254, 169, 254) => {
            "cloud metadata (169.254.169.254)"
        }
        IpAddr::V4(v4) if v4 == Ipv4Addr::new(100, 100, 100, 200) => {
            "cloud metadata (100.100.100.200)"
        }
        IpAddr::V4(_) => "container credentials (169.254.170.0/24)",
        IpAddr::V6(_) => "cloud metadata (fd00:ec2::)",
    }
}

/// The kind of an IPv4 address, as said of an IPv6 address carrying it.
fn embedded_kind(kind: &'static str) -> &'static str {
    const FORMS: [(&str, &str); 12] = [
        (
            "unspecified (0.0.0.0/8)",
            "IPv6 form of an unspecified IPv4 address",
        ),
        (
            "private (10.0.0.0/8)",
            "IPv6 form of a private IPv4 address (10.0.0.0/8)",
        ),
        (
            "private (172.16.0.0/12)",
            "IPv6 form of a private IPv4 address (172.16.0.0/12)",
        ),
        (
            "private (192.168.0.0/16)",
            "IPv6 form of a private IPv4 address (192.168.0.0/16)",
        ),
        (
            "loopback (127.0.0.0/8)",
            "IPv6 form of a loopback IPv4 address (127.0.0.0/8)",
        ),
        (
            "link-local (169.254.0.0/16)",
            "IPv6 form of a link-local IPv4 address (169.254.0.0/16)",
        ),
        (
            "cloud metadata (169.254.169.254)",
            "IPv6 form of the cloud metadata address (169.254.169.254)",
        ),
        (
            "container credentials (169.254.170.0/24)",
            "IPv6 form of a container credentials address",
        ),
        (
            "cloud metadata (100.100.100.200)",
            "IPv6 form of the cloud metadata address (100.100.100.200)",
        ),
        (
            "carrier-grade NAT (100.64.0.0/10)",
            "IPv6 form of a carrier-grade NAT address (100.64.0.0/10)",
        ),
        (
            "multicast (224.0.0.0/4)",
            "IPv6 form of a multicast IPv4 address",
        ),
        (
            "broadcast (255.255.255.255)",
            "IPv6 form of the broadcast address",
        ),
    ];
    FORMS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, form)| *form)
        .unwrap_or("IPv6 form of a blocked IPv4 address")
}

/// The IPv4 addresses an IPv6 address carries, in every standard form: mapped
/// (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), translated (`::ffff:0:a.b.c.d`), NAT64
/// well-known (`64:ff9b::/96`) and local-use (`64:ff9b:1::/48`, at each RFC 6052 prefix length),
/// 6to4 (`2002:AABB:CCDD::/48`) and Teredo (`2001:0:SSSS:SSSS::`, server and client). An IPv4
/// address is its own.
pub fn embedded_v4(ip: IpAddr) -> Vec<Ipv4Addr> {
    let v6 = match ip {
        IpAddr::V4(v4) => return vec![v4],
        IpAddr::V6(v6) => v6,
    };
    let s = v6.segments();
    let b = v6.octets();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    let last = v4(s[6], s[7]);
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        return vec![last]; // mapped
    }
    if s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0 {
        return vec![last]; // translated (RFC 2765)
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        // Compatible; `::` and `::1` are IPv6's own.
        return if v6.is_unspecified() || v6.is_loopback() {
            Vec::new()
        } else {
            vec![last]
        };
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return vec![last]; // NAT64 well-known prefix
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        // NAT64 local-use prefix (RFC 8215): the IPv4 address sits where RFC 6052 puts it for
        // the prefix length in use, which the address does not say. Every placement the address
        // fits (bits 64-71 and the bits after the IPv4 address zero; /96 always) is judged; an
        // all-zero placement is left out when another fits (it is what a shorter one leaves).
        let zero = |from: usize| b[from..].iter().all(|x| *x == 0);
        let mut fits: Vec<Ipv4Addr> = [
            (b[8] == 0 && zero(11)).then(|| Ipv4Addr::new(b[6], b[7], b[9], b[10])), // /48
            (b[8] == 0 && zero(12)).then(|| Ipv4Addr::new(b[7], b[9], b[10], b[11])), // /56
            (b[8] == 0 && zero(13)).then(|| Ipv4Addr::new(b[9], b[10], b[11], b[12])), // /64
            Some(last),                                                              // /96
        ]
        .into_iter()
        .flatten()
        .collect();
        if fits.iter().any(|v4| !v4.is_unspecified()) {
            fits.retain(|v4| !v4.is_unspecified());
        }
        return fits;
    }
    if s[0] == 0x2002 {
        return vec![v4(s[1], s[2])]; // 6to4
    }
    if s[0] == 0x2001 && s[1] == 0 {
        // Teredo: the server, and the client (its bits inverted).
        return vec![v4(s[2], s[3]), v4(!s[6], !s[7])];
    }
    Vec::new()
}

/// The address an IPv6 form stands for when it carries exactly one IPv4 address; otherwise the
/// address itself.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match embedded_v4(ip).as_slice() {
        [v4] => IpAddr::V4(*v4),
        _ => ip,
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn blocked_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            const V4: [([u8; 4], u32, &str); 14] = [
                ([0, 0, 0, 0], 8, "unspecified (0.0.0.0/8)"),
                ([10, 0, 0, 0], 8, "private (10.0.0.0/8)"),
                ([100, 64, 0, 0], 10, "carrier-grade NAT (100.64.0.0/10)"),
                ([127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"),
                ([169, 254, 169, 254], 32, "cloud metadata (169.254.169.254)"),
                ([169, 254, 0, 0], 16, "link-local (169.254.0.0/16)"),
                ([172, 16, 0, 0], 12, "private (172.16.0.0/12)"),
                (
                    [192, 0, 0, 0],
                    24,
                    "IETF protocol assignments (192.0.0.0/24)",
                ),
                ([192, 168, 0, 0], 16, "private (192.168.0.0/16)"),
                ([198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"),
                ([224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"),
                ([255, 255, 255, 255], 32, "broadcast (255.255.255.255)"),
                ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
                ([192, 88, 99, 0], 24, "6to4 relay anycast (192.88.99.0/24)"),
            ];
            V4.iter()
                .find(|(net, prefix, _)| in_v4(v4, *net, *prefix))
                .map(|(_, _, kind)| *kind)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_unspecified() {
                Some("unspecified (::)")
            } else if v6.is_loopback() {
                Some("loopback (::1)")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local (fe80::/10)")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("unique local (fc00::/7)")
            } else if s[0] & 0xff00 == 0xff00 {
                Some("multicast (ff00::/8)")
            } else if s[0] == 0xfec0 {
                Some("site-local (fec0::/10)")
            } else {
                None
            }
        }
    }
}

/// Parses a host the way a URL parser does, so the obfuscated IPv4 forms browsers accept
/// (`2130706433`, `0x7f.1`, `017700000001`) and bracketed IPv6 are read as the addresses they
/// are, never as names to look up.
pub fn parse_host(host: &str) -> Result<HostKind, String> {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(v6) = trimmed.parse::<Ipv6Addr>() {
        return Ok(HostKind::Ip(IpAddr::V6(v6)));
    }
    match url::Host::parse(host) {
        Ok(url::Host::Ipv4(v4)) => Ok(HostKind::Ip(IpAddr::V4(v4))),
        Ok(url::Host::Ipv6(v6)) => Ok(HostKind::Ip(IpAddr::V6(v6))),
        Ok(url::Host::Domain(d)) => Ok(HostKind::Name(d)),
        Err(e) => Err(format!("invalid host {host:?}: {e}")),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKind {
    Ip(IpAddr),
    Name(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_every_internal_range_by_default() {
        let g = Guard::default();
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(g.check(ip(s)).is_err(), "{s} must be blocked");
        }
    }

    #[test]
    fn allows_public_addresses() {
        let g = Guard::default();
        for s in [
            "203.0.113.10",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2002:0808:0808::",
        ] {
            assert_eq!(g.check(ip(s)), Ok(()), "{s} must be allowed");
        }
    }

    #[test]
    fn every_ipv6_form_of_an_ipv4_address_is_judged_as_that_address() {
        let g = Guard::default();
        for s in [
            "::ffff:169.254.169.254",               // mapped
            "::169.254.169.254",                    // compatible
            "::ffff:0:169.254.169.254",             // translated
            "64:ff9b::169.254.169.254",             // NAT64 well-known
            "64:ff9b:1::a9fe:a9fe",                 // NAT64 local-use, /96
            "64:ff9b:1:a9fe:a9:fe00::",             // NAT64 local-use, /48
            "64:ff9b:1:a9:fe:a9fe::",               // NAT64 local-use, /56
            "2002:a9fe:a9fe::1",                    // 6to4
            "2001:0:4136:e378:8000:63bf:5601:5601", // Teredo, client 169.254.169.254
            "2001:0:a9fe:a9fe::1",                  // Teredo, server 169.254.169.254
            "64:ff9b:1::a00:1",                     // NAT64 local-use, 10.0.0.1
        ] {
            let e = g.check(ip(s)).expect_err(s);
            assert!(e.starts_with("IPv6 form of"), "{s}: {e}");
            if !s.ends_with("a00:1") {
                assert!(e.contains("cloud metadata"), "{s}: {e}");
            }
        }
        // Public IPv4 addresses in the same forms go through.
        for s in [
            "64:ff9b::8.8.8.8",
            "64:ff9b:1::808:808",
            "64:ff9b:1:808:8:800::",
            "2002:808:808::1",
            "::ffff:0:8.8.8.8",
        ] {
            assert_eq!(g.check(ip(s)), Ok(()), "{s}");
        }
    }

    #[test]
    fn allowing_an_ipv6_range_never_opens_the_ipv4_addresses_inside_it() {
        for range in [
            "::/0",
            "2002::/16",
            "64:ff9b::/96",
            "::ffff:0:0/96",
            "64:ff9b:1::/48",
        ] {
            let g = Guard::new(vec![range.parse().unwrap()]);
            for s in [
                "::ffff:169.254.169.254",
                "2002:a9fe:a9fe::",
                "64:ff9b::a9fe:a9fe",
                "64:ff9b:1::a9fe:a9fe",
                "::ffff:10.0.0.1",
                "169.254.169.254",
            ] {
                assert!(g.check(ip(s)).is_err(), "{s} with {range}");
            }
        }
        // The IPv4 range opens its IPv6 forms, as it opens the address itself.
        let g = Guard::new(vec!["10.0.0.0/8".parse().unwrap()]);
        for s in [
            "10.0.0.1",
            "::ffff:10.0.0.1",
            "2002:a00:1::",
            "64:ff9b::a00:1",
        ] {
            assert_eq!(g.check(ip(s)), Ok(()), "{s}");
        }
    }

    #[test]
    fn metadata_endpoints_open_only_when_listed_exactly() {
        let broad = Guard::new(vec![
            "169.254.0.0/16".parse().unwrap(),
            "100.64.0.0/10".parse().unwrap(),
            "fd00::/8".parse().unwrap(),
        ]);
        for s in [
            "169.254.169.254",
            "169.254.170.2",
            "169.254.170.23",
            "100.100.100.200",
            "fd00:ec2::254",
            "fd00:ec2::23",
            "::ffff:169.254.169.254",
        ] {
            assert!(broad.check(ip(s)).is_err(), "{s} through a range");
            assert!(Guard::permissive().check(ip(s)).is_err(), "{s} permissive");
        }
        assert_eq!(broad.check(ip("169.254.1.1")), Ok(()));
        assert_eq!(broad.check(ip("fd00::1")), Ok(()));
        let exact = Guard::new(vec![
            "169.254.169.254/32".parse().unwrap(),
            "fd00:ec2::254/128".parse().unwrap(),
        ]);
        for s in ["169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254"] {
            assert_eq!(exact.check(ip(s)), Ok(()), "{s} listed");
        }
        assert!(exact.check(ip("169.254.170.2")).is_err());
    }

    #[test]
    fn metadata_address_is_named_as_such() {
        assert_eq!(
            Guard::default().check(ip("169.254.169.254")),
            Err("cloud metadata (169.254.169.254)")
        );
    }

    #[test]
    fn allow_networks_open_only_their_ranges() {
        let g = Guard::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert_eq!(g.check(ip("127.0.0.1")), Ok(()));
        assert_eq!(g.check(ip("::ffff:127.0.0.1")), Ok(()));
        assert!(g.check(ip("169.254.169.254")).is_err());
        assert!(g.check(ip("10.0.0.1")).is_err());
        assert!(g.check(ip("::1")).is_err());
    }

    #[test]
    fn obfuscated_literals_are_read_as_the_addresses_they_are() {
        for s in [
            "2130706433",
            "0x7f.1",
            "017700000001",
            "127.1",
            "[::ffff:127.0.0.1]",
            "0x7f000001",
        ] {
            let HostKind::Ip(addr) = parse_host(s).unwrap() else {
                panic!("{s} parsed as a name")
            };
            assert_eq!(canonical(addr), ip("127.0.0.1"), "{s}");
        }
        assert_eq!(
            parse_host("shop.example").unwrap(),
            HostKind::Name("shop.example".into())
        );
    }
}
