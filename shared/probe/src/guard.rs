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

impl Guard {
    pub fn new(allow: Vec<IpNet>) -> Self {
        Guard { allow }
    }

    /// A guard that allows everything; for tools that deliberately probe internal targets.
    pub fn permissive() -> Self {
        Guard {
            allow: vec![
                "0.0.0.0/0".parse().expect("valid"),
                "::/0".parse().expect("valid"),
            ],
        }
    }

    /// `Ok` when the address may be dialled; otherwise the kind of address it is.
    pub fn check(&self, ip: IpAddr) -> Result<(), &'static str> {
        let canonical = canonical(ip);
        if self
            .allow
            .iter()
            .any(|n| n.contains(&ip) || n.contains(&canonical))
        {
            return Ok(());
        }
        match blocked_kind(canonical) {
            Some(kind) => Err(kind),
            None => Ok(()),
        }
    }
}

/// IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, and
/// NAT64 `64:ff9b::a.b.c.d`) are judged as that IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            let embedded =
                Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
            let compatible =
                s[..6].iter().all(|x| *x == 0) && !v6.is_unspecified() && !v6.is_loopback();
            let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0);
            if compatible || nat64 {
                IpAddr::V4(embedded)
            } else {
                ip
            }
        }
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
            } else if s[0] == 0x2002 {
                // 6to4: judged by the IPv4 address it embeds.
                let v4 =
                    Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
                blocked_kind(IpAddr::V4(v4))
                    .map(|_| "6to4 form of a blocked IPv4 address (2002::/16)")
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
