use super::*;

#[test]
fn references_resolve_and_are_remembered_as_secrets() {
    let t = EnvTemplate::parse("Bearer ${env:TOKEN}").unwrap();
    let r = t
        .resolve(|r| (r.name == "TOKEN").then(|| "s3cret".to_string()))
        .unwrap();
    assert_eq!(r.value, "Bearer s3cret");
    assert_eq!(r.secrets, vec!["s3cret".to_string()]);
    assert_eq!(t.to_string(), "Bearer ${env:TOKEN}");
}

#[test]
fn a_value_in_a_url_is_encoded_for_where_it_stands() {
    let t = EnvTemplate::parse(
        "https://${env:U}:${env:P}@${env:H}.example/${env:PATH}?t=${env:P}#${env:F}",
    )
    .unwrap();
    let env = |r: &Reference| {
        let v = match r.name.as_str() {
            "U" => "bob@acme",
            "P" => "a/b:c@d%&x=1",
            "H" => "tenant",
            "F" => "top",
            _ => "v1/x",
        };
        Some(v.to_string())
    };
    let r = t.resolve_url(env).unwrap();
    assert_eq!(
        r.value,
        "https://bob%40acme:a%2Fb%3Ac%40d%25%26x%3D1@tenant.example/v1%2Fx?t=a%2Fb%3Ac%40d%25%26x%3D1#top"
    );
    assert_eq!(r.secrets.len(), 6);
    // Unreserved characters stay as they are.
    let t = EnvTemplate::parse("https://shop.example/orders/${var:order}").unwrap();
    let placed = |v: &str| t.resolve_url(|_| Some(v.to_string()));
    assert_eq!(
        placed("A-1_b.c~2").unwrap().value,
        "https://shop.example/orders/A-1_b.c~2"
    );
}

#[test]
fn a_hostile_value_stays_in_its_place() {
    let t = EnvTemplate::parse("https://api.example/orders/${var:order}?confirm=${var:c}").unwrap();
    let with = |order: &str, c: &str| {
        let (order, c) = (order.to_string(), c.to_string());
        t.resolve_url(move |r| {
            Some(if r.name == "order" {
                order.clone()
            } else {
                c.clone()
            })
        })
    };
    let r = with("../admin/delete-everything?confirm=yes&x=", "no#frag").unwrap();
    assert_eq!(
        r.value,
        "https://api.example/orders/..%2Fadmin%2Fdelete-everything%3Fconfirm%3Dyes%26x%3D?confirm=no%23frag"
    );
    let url = url::Url::parse(&r.value).unwrap();
    assert_eq!(
        url.path(),
        "/orders/..%2Fadmin%2Fdelete-everything%3Fconfirm%3Dyes%26x%3D"
    );
    assert_eq!(url.query_pairs().count(), 1);
    // A backslash is not a separator to come.
    let r = with("a\\..\\admin", "x").unwrap();
    assert_eq!(
        url::Url::parse(&r.value).unwrap().path(),
        "/orders/a%5C..%5Cadmin"
    );
    // A whole dot segment is refused, not sent.
    for dots in [".", ".."] {
        let e = with(dots, "x").unwrap_err();
        assert!(e.to_string().contains("dot segment"), "{e}");
        assert_eq!(e.reference().name, "order");
    }
    assert_eq!(
        with("...", "x").unwrap().value,
        "https://api.example/orders/...?confirm=x"
    );
    // In the host, only what a host name can have.
    let t = EnvTemplate::parse("https://${env:TENANT}.shop.example/").unwrap();
    for bad in ["evil.example/x", "a@b", "a?b", "a#b", "a b", "a\\b", "a%2f"] {
        let e = t.resolve_url(|_| Some(bad.to_string())).unwrap_err();
        assert!(e.to_string().contains("host"), "{bad}: {e}");
    }
    assert_eq!(
        t.resolve_url(|_| Some("acme-1".into())).unwrap().value,
        "https://acme-1.shop.example/"
    );
}

#[test]
fn unset_or_empty_variable_is_an_error_never_an_empty_value() {
    let t = EnvTemplate::parse("Bearer ${env:TOKEN}").unwrap();
    let token = Reference {
        source: Source::Env,
        name: "TOKEN".into(),
    };
    assert_eq!(t.resolve(|_| None), Err(UnsetVariable(token.clone())));
    assert_eq!(
        t.resolve(|_| Some(String::new())),
        Err(UnsetVariable(token))
    );
}

#[test]
fn parameters_and_secrets_are_references_shown_by_name() {
    let t = EnvTemplate::parse("Bearer ${ssm:/atalaya/shop-token} ${secret:atalaya/api}").unwrap();
    let refs: Vec<String> = t.references().map(|r| r.to_string()).collect();
    assert_eq!(
        refs,
        ["${ssm:/atalaya/shop-token}", "${secret:atalaya/api}"]
    );
    assert_eq!(t.variables().count(), 0);
    let r = t
        .resolve(|r| match r.source {
            Source::Ssm => Some("p4ram".into()),
            Source::Secret => Some("s3cret".into()),
            Source::Env | Source::Var => None,
        })
        .unwrap();
    assert_eq!(r.value, "Bearer p4ram s3cret");
    assert_eq!(
        t.to_string(),
        "Bearer ${ssm:/atalaya/shop-token} ${secret:atalaya/api}"
    );
    assert_eq!(
        t.resolve(|_| None).unwrap_err().to_string(),
        "SSM parameter /atalaya/shop-token could not be read"
    );
}

#[test]
fn malformed_references_are_rejected_at_load_time() {
    assert!(EnvTemplate::parse("${env:TOKEN")
        .unwrap_err()
        .contains("unclosed"));
    assert!(EnvTemplate::parse("${file:/etc/passwd}")
        .unwrap_err()
        .contains("only ${env:NAME}, ${ssm:/path} and ${secret:name}"));
    assert!(EnvTemplate::parse("${ssm:team/token}")
        .unwrap_err()
        .contains("a path from the root"));
    assert!(EnvTemplate::parse("${secret:a b}")
        .unwrap_err()
        .contains("invalid secret name"));
    assert!(EnvTemplate::parse("${env:1X}")
        .unwrap_err()
        .contains("invalid environment variable name"));
    assert_eq!(
        EnvTemplate::parse("cost $${env:X}")
            .unwrap()
            .resolve(|_| None)
            .unwrap()
            .value,
        "cost ${env:X}"
    );
}
