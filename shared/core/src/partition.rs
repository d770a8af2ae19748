//! The engine's state split into partitions, so that no stored item grows with the whole file
//! and an evaluation reads and writes only the partitions its results touch.
//!
//! - Services that depend on one another (`depends_on`, either way) stay in one partition: an
//!   incident that lists a dependent service, and its resolution, never cross partitions.
//! - A group of services goes to partition `stable_hash(its first service id) % n`: adding or
//!   removing other services never moves it. Joining two groups by a new dependency moves one of
//!   them: its checks start afresh there (unknown until their next results), and its open
//!   incidents are handed over on the next evaluation (`atalaya_app::evaluation`), keeping their
//!   ids.
//! - One more partition, [`REGIONS`], hears every result and alone tells operators a region went
//!   silent or came back; every partition judges silence with the whole file's intervals, so
//!   they agree on what they see.
//! - Incident ids carry their partition (`inc-p07-3`), so partitions never share one.

use crate::config::{Config, Scope};
use crate::schedule::stable_hash;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The key of the partition that follows the regions.
pub const REGIONS: &str = "regions";

/// One partition: its key and the part of the file it evaluates.
#[derive(Clone, Debug)]
pub struct Part {
    pub key: String,
    pub config: Config,
}

/// A file split into `n` partitions, plus the regions'.
#[derive(Clone, Debug)]
pub struct Plan {
    pub parts: Vec<Part>,
    pub regions: Part,
    of_check: HashMap<String, usize>,
}

impl Plan {
    pub fn of(config: &Config, n: u32) -> Plan {
        let n = n.max(1);
        // Groups: services connected by dependencies (union-find over service indexes).
        let index: HashMap<&str, usize> = config
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut parent: Vec<usize> = (0..config.services.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        for (i, s) in config.services.iter().enumerate() {
            for d in &s.depends_on {
                if let Some(&j) = index.get(d.as_str()) {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        let mut groups: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        for (i, s) in config.services.iter().enumerate() {
            let r = root(&mut parent, i);
            groups.entry(r).or_default().insert(s.id.clone());
        }
        let mut by_part: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
        for services in groups.into_values() {
            let first = services.iter().next().cloned().unwrap_or_default();
            let p = (stable_hash(first.as_bytes()) % u64::from(n)) as u32;
            by_part.entry(p).or_default().extend(services);
        }
        let intervals = config.region_intervals();
        let width = (n - 1).to_string().len().max(2);
        let mut of_check = HashMap::new();
        let mut parts = Vec::new();
        // Every partition, even one with no service now: on a tick it is evaluated all the
        // same, so that what it still holds (an incident whose service moved) is handed over.
        for p in 0..n {
            let services = by_part.remove(&p).unwrap_or_default();
            let key = format!("p{p:0width$}");
            let mut part = config.part(
                &services,
                Scope {
                    region_events: false,
                    incident_prefix: format!("{key}-"),
                    region_intervals: intervals.clone(),
                },
            );
            // A tick may leave out a partition a batch evaluated up to 30 s before
            // (`atalaya_app::evaluation::RECENT`): evaluations come that much further apart.
            part.settings.tick += std::time::Duration::from_secs(30);
            for c in &part.checks {
                of_check.insert(c.id.clone(), parts.len());
            }
            parts.push(Part { key, config: part });
        }
        let regions = Part {
            key: REGIONS.into(),
            config: config.part(
                &BTreeSet::new(),
                Scope {
                    region_events: true,
                    incident_prefix: format!("{REGIONS}-"),
                    region_intervals: intervals,
                },
            ),
        };
        Plan {
            parts,
            regions,
            of_check,
        }
    }

    /// The partition that evaluates `check`.
    pub fn of_check(&self, check: &str) -> Option<&Part> {
        self.of_check.get(check).map(|&i| &self.parts[i])
    }

    /// The partition that evaluates `service`.
    pub fn of_service(&self, service: &str) -> Option<&Part> {
        self.parts
            .iter()
            .find(|p| p.config.service(service).is_some())
    }

    /// The partition whose incidents carry `incident` (`inc-p07-3` → `p07`; an incident handed
    /// over to another partition keeps its id, so look elsewhere if it is not there).
    pub fn of_incident(&self, incident: &str) -> Option<&Part> {
        let rest = incident.strip_prefix("inc-")?;
        let key = rest.split('-').next()?;
        self.parts.iter().find(|p| p.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(services: &str) -> Config {
        let mut checks = String::new();
        for (i, line) in services.lines().enumerate() {
            let id = line
                .split("id: ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .unwrap_or("");
            checks.push_str(&format!(
                "  - {{ id: k{i}, service: {id}, http: {{ url: 'https://x.example/' }} }}\n"
            ));
        }
        crate::load_str(
            &format!("settings:\n  regions: [eu-west-1, us-east-1]\ncustomers:\n  - {{ id: a, name: A }}\nservices:\n{services}checks:\n{checks}"),
            "f.yaml",
            crate::Target::Lambda,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn dependent_services_share_a_partition_and_every_check_has_one() {
        let mut services = String::new();
        for i in 0..200 {
            let dep = if i % 10 == 1 {
                format!(", depends_on: [s{}]", i - 1)
            } else {
                String::new()
            };
            services.push_str(&format!(
                "  - {{ id: s{i}, customer: a, name: S{i}{dep} }}\n"
            ));
        }
        let cfg = config(&services);
        let plan = Plan::of(&cfg, 16);
        assert_eq!(plan.parts.len(), 16);
        assert!(
            plan.parts
                .iter()
                .filter(|p| !p.config.services.is_empty())
                .count()
                > 8
        );
        for c in &cfg.checks {
            assert!(plan.of_check(&c.id).is_some(), "{}", c.id);
        }
        for i in (1..200).step_by(10) {
            let of = |s: String| {
                plan.parts
                    .iter()
                    .position(|p| p.config.service(&s).is_some())
            };
            assert_eq!(of(format!("s{i}")), of(format!("s{}", i - 1)));
        }
        let total: usize = plan.parts.iter().map(|p| p.config.checks.len()).sum();
        assert_eq!(total, cfg.checks.len());
        assert!(plan
            .parts
            .iter()
            .all(|p| !p.config.settings.scope.region_events));
        assert!(
            plan.regions.config.settings.scope.region_events
                && plan.regions.config.checks.is_empty()
        );
        // Another service added elsewhere moves nobody.
        let mut more = services.clone();
        more.push_str("  - { id: zz-new, customer: a, name: New }\n");
        let again = Plan::of(&config(&more), 16);
        for p in &plan.parts {
            for s in &p.config.services {
                let q = again
                    .parts
                    .iter()
                    .find(|q| q.config.service(&s.id).is_some())
                    .map(|q| q.key.clone());
                assert_eq!(q.as_deref(), Some(p.key.as_str()), "{}", s.id);
            }
        }
    }

    #[test]
    fn an_incident_id_names_its_partition() {
        let cfg = config("  - { id: s0, customer: a, name: S0 }\n");
        let plan = Plan::of(&cfg, 64);
        let key = plan.parts[0].key.clone();
        assert_eq!(
            plan.of_incident(&format!("inc-{key}-3"))
                .map(|p| p.key.as_str()),
            Some(key.as_str())
        );
        assert!(plan.of_incident("inc-3").is_none());
    }
}
