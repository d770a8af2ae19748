//! What the facts mean for the operator: each finding says what is wrong and what to do. Pure.

use super::deployment::Deployment;
use super::facts::Facts;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    Problem,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub level: Level,
    pub text: String,
    /// What to do (problems and warnings).
    pub todo: Option<String>,
}

fn ok(text: String) -> Finding {
    Finding {
        level: Level::Ok,
        text,
        todo: None,
    }
}

fn bad(level: Level, text: String, todo: &str) -> Finding {
    Finding {
        level,
        text,
        todo: Some(todo.into()),
    }
}

/// A fact that could not be read: health not shown is not health.
fn unreadable(what: &str, e: &str) -> Finding {
    bad(Level::Problem, format!("{what}: could not be read ({e})"), "give the credentials read access to it (the read-only policy in docs/deploy.md, \"atalaya doctor\"), or check the region")
}

pub fn findings(d: &Deployment, f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(tables(f));
    out.extend(functions(f));
    out.extend(alarms(f));
    out.extend(subscriptions(f));
    out.extend(mail(d, f));
    out.extend(concurrency(f));
    out.extend(endpoints(d, f));
    out.extend(versions(f));
    out.extend(site(d, f));
    out
}

fn tables(f: &Facts) -> Vec<Finding> {
    f.tables.iter().map(|(name, got)| match got {
        Ok(Some(s)) if s == "ACTIVE" => ok(format!("table {name} is active")),
        Ok(Some(s)) => bad(Level::Warning, format!("table {name} is {s}"), "wait for it to become ACTIVE; if it stays so, look at the stack's events"),
        Ok(None) => bad(Level::Problem, format!("table {name} does not exist"), "deploy the home stack (make deploy-sam, or terraform apply) in the home region, with the same prefix"),
        Err(e) => unreadable(&format!("table {name}"), e),
    }).collect()
}

fn functions(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for x in &f.functions {
        let at = format!("function {} ({})", x.name, x.region);
        match &x.state {
            Ok(None) => {
                out.push(bad(Level::Problem, format!("{at} does not exist"), "deploy the stack of that region (the probe stack for a probe region, the home stack otherwise) with the same prefix"));
                continue;
            }
            Ok(Some(s)) if s != "Active" => out.push(bad(
                Level::Problem,
                format!("{at} is {s}"),
                "look at the function's last update in the Lambda console; deploy again",
            )),
            Err(e) => {
                out.push(unreadable(&at, e));
                continue;
            }
            Ok(Some(_)) => {}
        }
        // The mailer, the pages and the ping endpoint run when called: quiet is normal.
        let scheduled = !["pages", "mailer", "ping"]
            .iter()
            .any(|f| x.name.ends_with(f));
        match (&x.invocations, &x.errors) {
            (Err(e), _) | (_, Err(e)) => out.push(unreadable(&format!("{at}'s metrics"), e)),
            (Ok(_), Ok(errors)) if *errors > 0.0 => out.push(bad(Level::Problem, format!("{at} failed {errors} times in the last 15 minutes"), "read its log group (/aws/lambda/<name>) for the errors")),
            (Ok(runs), Ok(_)) if *runs == 0.0 && scheduled => out.push(bad(Level::Problem, format!("{at} has not run in the last 15 minutes"), "its schedule may be disabled or missing: look at EventBridge Scheduler (and the stream trigger, for the alert function)")),
            (Ok(runs), Ok(_)) => out.push(ok(format!("{at} is active, {runs} runs and no errors in the last 15 minutes"))),
        }
    }
    out
}

fn alarms(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (region, got) in &f.alarms {
        match got {
            Err(e) => out.push(unreadable(&format!("alarms in {region}"), e)),
            Ok(list) if list.is_empty() => out.push(ok(format!("alarms in {region}: all OK"))),
            Ok(list) => {
                for a in list {
                    let level = if a.state == "ALARM" {
                        Level::Problem
                    } else {
                        Level::Warning
                    };
                    let todo = if a.state == "ALARM" {
                        "read the alarm's description (docs/deploy.md lists what each means and what to do)"
                    } else {
                        "INSUFFICIENT_DATA: what it watches has not reported yet (a new stack, or a function that does not run)"
                    };
                    out.push(bad(
                        level,
                        format!(
                            "alarm {} ({}) is {}: {}",
                            a.name, a.region, a.state, a.reason
                        ),
                        todo,
                    ));
                }
            }
        }
    }
    out
}

fn subscriptions(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (topic, got) in &f.subscriptions {
        match got {
            Err(e) => out.push(unreadable(&format!("subscriptions of {topic}"), e)),
            Ok(s) if !s.pending.is_empty() => out.push(bad(Level::Problem, format!("{topic}: {} never confirmed the subscription; alarms do not reach them", s.pending.join(", ")), "follow the link in AWS's confirmation mail (it expires after 48 hours; deploy again to send a new one)")),
            Ok(s) if s.confirmed.is_empty() => out.push(bad(Level::Problem, format!("{topic}: nobody is subscribed; its alarms reach nobody"), "deploy with OPERATOR_EMAILS (Terraform: operator_emails)")),
            Ok(s) => out.push(ok(format!("{topic}: {} confirmed", s.confirmed.len()))),
        }
    }
    out
}

fn mail(d: &Deployment, f: &Facts) -> Vec<Finding> {
    let Some(domain) = &d.mail_domain else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match &f.ses_identity {
        Some(Ok(true)) => out.push(ok(format!("SES identity {domain} is verified for sending"))),
        Some(Ok(false)) => out.push(bad(
            Level::Problem,
            format!("SES identity {domain} is not verified: customer mail cannot be sent"),
            "add the DKIM records SES gives (aws sesv2 get-email-identity) to the domain's DNS",
        )),
        Some(Err(e)) => out.push(unreadable(&format!("SES identity {domain}"), e)),
        None => {}
    }
    match &f.ses_production {
        Some(Ok(true)) => out.push(ok("SES account is out of the sandbox".into())),
        Some(Ok(false)) => out.push(bad(
            Level::Problem,
            "SES account is in the sandbox: mail reaches verified addresses only, 200 a day".into(),
            "ask AWS for production access (docs/deploy.md, \"Leave the SES sandbox\")",
        )),
        Some(Err(e)) => out.push(unreadable("SES account", e)),
        None => {}
    }
    out
}

fn concurrency(f: &Facts) -> Vec<Finding> {
    f.concurrency.iter().map(|(region, got)| match got {
        Ok((limit, _)) if *limit < 100 => bad(Level::Warning, format!("Lambda concurrency in {region}: the account's quota is {limit}"), "ask Service Quotas for at least 100 concurrent executions there (docs/deploy.md §1.2) before monitoring more than a few thousand checks"),
        Ok((limit, unreserved)) => ok(format!("Lambda concurrency in {region}: {limit} ({unreserved} unreserved)")),
        Err(e) => unreadable(&format!("Lambda concurrency in {region}"), e),
    }).collect()
}

fn endpoints(d: &Deployment, f: &Facts) -> Vec<Finding> {
    let mut out: Vec<Finding> = f.endpoints.iter().map(|(url, got)| match got {
        Ok(()) => ok(format!("{url} answers")),
        Err(e) => bad(Level::Problem, format!("{url} does not answer: {e}"), "is the address the stack's output (PingUrl, PagesUrl)? a 403 means its function may not be invoked by its API (see below); a 429 that the API's throttle is full"),
    }).collect();
    for (name, got) in &f.invokers {
        match got {
            Ok(who) if who.iter().any(|p| p == "apigateway.amazonaws.com") && who.iter().all(|p| p == "apigateway.amazonaws.com") => out.push(ok(format!("function {name} is invoked by its HTTP API only"))),
            Ok(who) if !who.iter().any(|p| p == "apigateway.amazonaws.com") => out.push(bad(Level::Problem, format!("function {name} has no permission for its HTTP API: every request is answered 500"), "deploy the home stack again (the permission is part of it)")),
            Ok(who) => out.push(bad(Level::Problem, format!("function {name} may be invoked by {} besides its HTTP API: nothing bounds those calls", who.join(", ")), "remove the other statements (aws lambda remove-permission); only the throttled API may call it")),
            Err(e) => out.push(unreadable(&format!("function {name}'s policy"), e)),
        }
    }
    if d.ping_url.is_none() && f.endpoints.is_empty() {
        out.push(ok("no heartbeats: the ping endpoint is not called".into()));
    }
    out
}

fn versions(f: &Facts) -> Vec<Finding> {
    let published = match &f.published {
        Err(e) => return vec![unreadable("the published checks file", e)],
        Ok(None) => {
            return vec![ok(
                "no checks file published: the functions run the one packaged with them".into(),
            )]
        }
        Ok(Some(v)) => v,
    };
    f.running.iter().map(|(region, name, got)| match got {
        Ok(Some(v)) if v == published => ok(format!("function {name} ({region}) runs the published checks file ({v})")),
        Ok(Some(v)) => bad(Level::Problem, format!("function {name} ({region}) runs checks version {v}, not the published {published}"), "a newer file did not load (see the ChecksFileRejected alarm and the function's log), or it is less than a minute old"),
        Ok(None) => bad(Level::Warning, format!("function {name} ({region}) logged no checks version in the last 15 minutes"), "is it running? (see above)"),
        Err(e) => unreadable(&format!("function {name}'s log ({region})"), e),
    }).collect()
}

fn site(d: &Deployment, f: &Facts) -> Vec<Finding> {
    vec![match &f.distribution {
        Ok(Some((status, domain))) if status == "Deployed" => ok(format!("status site deployed at https://{domain}")),
        Ok(Some((status, _))) => bad(Level::Warning, format!("status site distribution is {status}"), "CloudFront takes a few minutes to deploy; look again"),
        Ok(None) if d.status_site => bad(Level::Problem, "settings.status_page.url is set but there is no status site distribution".into(), "deploy with StatusSite=cloudfront (Terraform status_site = \"cloudfront\") once CloudFront is enabled for the account, or remove the URL"),
        Ok(None) => ok("no status site distribution (StatusSite=bucket): pages are written to the site bucket".into()),
        Err(e) => unreadable("the status site distribution", e),
    }]
}
