//! `settings.private_locations`: probe locations inside a team's VPC, each a region of its own.

use super::settings::is_aws_region;
use super::Errs;
use crate::raw::RawSettings;
use std::collections::BTreeMap;

/// Names a private location may not take: the local runner's region and the heartbeats'.
const RESERVED: [&str; 2] = ["local", crate::kinds::heartbeat::REGION];

/// Each private location's name and AWS region, checked: a name of lowercase letters, digits and
/// dashes (it names a function and its alarms) that is neither an AWS region nor reserved.
pub(super) fn private_locations(
    raw: &RawSettings,
    s: &str,
    errs: &mut Errs,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, loc) in raw.private_locations.iter().flatten() {
        let pos = loc.aws_region.pos;
        let field = format!("private_locations.{name}");
        let shaped = name.len() >= 2
            && name.len() <= 31
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !shaped {
            errs.push(pos, s, &field, format!("{name:?} is not a location name: 2 to 31 lowercase letters, digits and dashes, starting with a letter (e.g. vpc-prod)"));
        } else if is_aws_region(name) || RESERVED.contains(&name.as_str()) {
            errs.push(pos, s, &field, format!("{name:?} is taken (an AWS region, `local` or `heartbeats`): give the location a name of its own, e.g. vpc-{name}"));
        }
        if !is_aws_region(&loc.aws_region.value) {
            errs.push(
                pos,
                s,
                &format!("{field}.aws_region"),
                format!(
                    "{:?} is not an AWS region name (like eu-west-1)",
                    loc.aws_region.value
                ),
            );
        }
        out.insert(name.clone(), loc.aws_region.value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::Target;

    fn load(locations: &str, regions: &str) -> Result<crate::Config, String> {
        let text = format!("settings:\n  regions: [{regions}]\n  private_locations: {locations}\ncustomers: [{{ id: a, name: A }}]\nservices: [{{ id: s, customer: a, name: S }}]\nchecks:\n  - {{ id: c, service: s, tcp: {{ host: db.internal.example, port: 5432 }} }}\n");
        crate::load_str(&text, "t.yaml", Target::Lambda).map_err(|e| e.to_string())
    }

    #[test]
    fn a_private_location_is_a_region_of_its_own_named_by_the_team() {
        let c = load(
            "{ vpc-prod: { aws_region: eu-west-1 } }",
            "eu-west-1, vpc-prod",
        )
        .unwrap();
        assert_eq!(c.settings.private_locations["vpc-prod"], "eu-west-1");
        assert_eq!(c.settings.regions, ["eu-west-1", "vpc-prod"]);
        // Every check runs in every region by default, the private location included.
        assert_eq!(c.checks[0].regions, ["eu-west-1", "vpc-prod"]);
    }

    #[test]
    fn names_and_regions_that_cannot_be_are_refused_with_where() {
        let e = load("{ Prod: { aws_region: eu-west-1 } }", "eu-west-1").unwrap_err();
        assert!(
            e.contains("settings: private_locations.Prod: \"Prod\" is not a location name"),
            "{e}"
        );
        let e = load("{ us-east-1: { aws_region: eu-west-1 } }", "eu-west-1").unwrap_err();
        assert!(e.contains("\"us-east-1\" is taken (an AWS region"), "{e}");
        let e = load("{ vpc-prod: { aws_region: europe } }", "eu-west-1").unwrap_err();
        assert!(
            e.contains(
                "private_locations.vpc-prod.aws_region: \"europe\" is not an AWS region name"
            ),
            "{e}"
        );
        // Listed in regions without being declared: not an AWS region, and says how to declare it.
        let e = load("{}", "eu-west-1, vpc-prod").unwrap_err();
        assert!(e.contains("\"vpc-prod\" is not an AWS region name (like eu-west-1), a private location (settings.private_locations) or `local`"), "{e}");
    }
}
