//! Whether the receiving mail server vouched for a message's From domain, read from its
//! `Authentication-Results` header (RFC 8601).
//!
//! Only the topmost `Authentication-Results` header whose authserv-id is the configured
//! trusted server counts: the receiving server adds its header above everything the sender
//! wrote, so a forged header claiming the same server sits below the real one and is ignored.
//! (The mail server should also strip such headers on arrival; most do.)
//!
//! The From is believed when that header says `spf=pass` with `smtp.mailfrom` (or
//! `header.from`) in the From's domain, or `dkim=pass` with `header.d` / `header.i` (or
//! `header.from`) in the From's domain. Domains are compared exactly, case-insensitively.

/// The result of checking a message's authentication results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vouch {
    /// The trusted server vouched for the From domain: which method passed, e.g. `dkim=pass`.
    Pass(String),
    /// Not vouched for; why, in Chinese for the clerk who decides whether to accept it.
    Unverified(String),
}

/// One method result of an `Authentication-Results` header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MethodResult {
    pub method: String,
    pub result: String,
    /// `ptype.property` (lower case) and value, e.g. (`header.d`, `unit.example`).
    pub properties: Vec<(String, String)>,
}

/// A parsed `Authentication-Results` header value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthResults {
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// Removes RFC 5322 comments (nested parentheses), unfolds lines.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            if depth == 0 {
                out.push(c);
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            '\r' | '\n' | '\t' => {
                if depth == 0 {
                    out.push(' ');
                }
            }
            _ => {
                if depth == 0 {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// Parses an `Authentication-Results` header value; None when it has no authserv-id.
pub fn parse(value: &str) -> Option<AuthResults> {
    let clean = strip_comments(value);
    let mut parts = clean.split(';');
    let authserv_id = parts
        .next()?
        .split_whitespace()
        .next()?
        .to_ascii_lowercase();
    let mut results = Vec::new();
    for part in parts {
        let mut tokens = part.split_whitespace();
        let Some(first) = tokens.next() else {
            continue;
        };
        let Some((method, result)) = first.split_once('=') else {
            continue;
        };
        let method = method
            .split('/')
            .next()
            .unwrap_or(method)
            .to_ascii_lowercase();
        let mut r = MethodResult {
            method,
            result: result.trim_matches('"').to_ascii_lowercase(),
            properties: Vec::new(),
        };
        for t in tokens {
            if let Some((k, v)) = t.split_once('=') {
                if k.contains('.') {
                    r.properties
                        .push((k.to_ascii_lowercase(), v.trim_matches('"').to_string()));
                }
            }
        }
        results.push(r);
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// The domain of `user@domain`, `@domain` or `domain`, lower case.
pub fn domain_of(s: &str) -> String {
    let s = s.trim().trim_matches(['<', '>', '"']);
    let d = s.rsplit_once('@').map_or(s, |(_, d)| d);
    d.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Checks the headers of a message (name, raw value, in message order) for the trusted
/// server's vouching of `from_domain`.
pub fn check(headers: &[(String, String)], trusted: Option<&str>, from_domain: &str) -> Vouch {
    let Some(trusted) = trusted.map(str::trim).filter(|t| !t.is_empty()) else {
        return Vouch::Unverified(
            "未配置受信任的收件服务器（[inbox] trusted_authserv_id），无法核实发件人".into(),
        );
    };
    let trusted = trusted.to_ascii_lowercase();
    let from_domain = from_domain.to_ascii_lowercase();
    let found = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
        .filter_map(|(_, v)| parse(v))
        .find(|a| a.authserv_id == trusted);
    let Some(ar) = found else {
        return Vouch::Unverified(format!(
            "邮件没有受信任的收件服务器{trusted}出具的发件人验证结果（Authentication-Results）"
        ));
    };
    for r in &ar.results {
        if r.result != "pass" {
            continue;
        }
        let props: &[&str] = match r.method.as_str() {
            "spf" => &["smtp.mailfrom", "header.from"],
            "dkim" => &["header.d", "header.i", "header.from"],
            _ => continue,
        };
        let ok = r
            .properties
            .iter()
            .any(|(k, v)| props.contains(&k.as_str()) && domain_of(v) == from_domain);
        if ok {
            return Vouch::Pass(format!("{}=pass", r.method));
        }
    }
    let seen: Vec<String> = ar
        .results
        .iter()
        .filter(|r| r.method == "spf" || r.method == "dkim")
        .map(|r| format!("{}={}", r.method, r.result))
        .collect();
    Vouch::Unverified(format!(
        "收件服务器{trusted}未确认发件域{from_domain}（{}）：发件人地址可能被冒用",
        if seen.is_empty() {
            "没有spf或dkim结果".to_string()
        } else {
            seen.join("，")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> Vec<(String, String)> {
        vec![("Authentication-Results".to_string(), v.to_string())]
    }

    #[test]
    fn dkim_and_spf_pass_for_the_domain() {
        let v = " mx.zhangdian.example;\r\n\tspf=pass (sender IP is 1.2.3.4) smtp.mailfrom=hr@unit.example;\r\n\tdkim=pass header.d=unit.example header.s=s1";
        assert_eq!(
            check(&h(v), Some("mx.zhangdian.example"), "unit.example"),
            Vouch::Pass("spf=pass".into())
        );
        let v = "mx.zhangdian.example; spf=fail smtp.mailfrom=x@other.example; dkim=pass header.i=@Unit.Example";
        assert_eq!(
            check(&h(v), Some("MX.zhangdian.example"), "unit.example"),
            Vouch::Pass("dkim=pass".into())
        );
    }

    #[test]
    fn other_domains_servers_and_failures_are_not_believed() {
        let trusted = Some("mx.zhangdian.example");
        for v in [
            "mx.zhangdian.example; spf=pass smtp.mailfrom=evil.example",
            "mx.zhangdian.example; dkim=pass header.d=sub.unit.example",
            "mx.zhangdian.example; spf=softfail smtp.mailfrom=unit.example",
            "mx.evil.example; spf=pass smtp.mailfrom=unit.example",
            "mx.zhangdian.example; none",
            "",
            ";;;=",
            "mx.zhangdian.example (spf=pass smtp.mailfrom=unit.example); dkim=none",
        ] {
            assert!(
                matches!(check(&h(v), trusted, "unit.example"), Vouch::Unverified(_)),
                "{v}"
            );
        }
        assert!(matches!(
            check(
                &h("mx; spf=pass smtp.mailfrom=unit.example"),
                None,
                "unit.example"
            ),
            Vouch::Unverified(_)
        ));
    }

    #[test]
    fn only_the_topmost_header_of_the_trusted_server_counts() {
        let headers = vec![
            (
                "Authentication-Results".to_string(),
                "mx.zhangdian.example; spf=fail smtp.mailfrom=unit.example".to_string(),
            ),
            (
                "Authentication-Results".to_string(),
                "mx.zhangdian.example; spf=pass smtp.mailfrom=unit.example".to_string(),
            ),
        ];
        assert!(matches!(
            check(&headers, Some("mx.zhangdian.example"), "unit.example"),
            Vouch::Unverified(_)
        ));
    }

    #[test]
    fn domains() {
        assert_eq!(domain_of("A@Unit.Example."), "unit.example");
        assert_eq!(domain_of("@unit.example"), "unit.example");
        assert_eq!(domain_of("unit.example"), "unit.example");
    }
}
