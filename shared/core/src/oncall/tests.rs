use super::*;

fn route(services: Option<&[&str]>, min: Severity, to: &[&str]) -> Route {
    Route {
        services: services.map(|s| s.iter().map(|x| x.to_string()).collect()),
        min_severity: min,
        to: to.iter().map(|x| x.to_string()).collect(),
    }
}

#[test]
fn a_catch_all_covers_everything_after_it_and_a_narrower_route_covers_nothing_wider() {
    let all = route(None, Severity::Info, &["chat"]);
    let shop = route(Some(&["shop"]), Severity::Warning, &["pd"]);
    let shop_critical = route(Some(&["shop"]), Severity::Critical, &["pd"]);
    let two = route(Some(&["shop", "api"]), Severity::Info, &["pd"]);
    assert!(all.covers(&shop));
    assert!(!shop.covers(&all));
    assert!(shop.covers(&shop_critical));
    assert!(!shop_critical.covers(&shop));
    assert!(two.covers(&shop));
    assert!(!shop.covers(&two));
}

#[test]
fn messages_about_no_service_match_only_routes_without_services() {
    let shop = route(Some(&["shop"]), Severity::Info, &["pd"]);
    assert!(shop.matches(Some("shop"), Severity::Warning));
    assert!(!shop.matches(None, Severity::Critical));
    assert!(!shop.matches(Some("blog"), Severity::Critical));
    let warn = route(None, Severity::Warning, &["pd"]);
    assert!(warn.matches(None, Severity::Warning));
    assert!(!warn.matches(Some("shop"), Severity::Info));
}
