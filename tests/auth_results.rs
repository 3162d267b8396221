//! `inbox::auth`: real `Authentication-Results` headers of common servers pass for the right
//! domain and for no other; hostile ones are all held; `check` never panics and never passes
//! without a literal `=pass` for the domain.

use chieftech::inbox::auth::{check, domain_of, parse, Defect, Vouch};
use proptest::prelude::*;

const AR: &str = "Authentication-Results";

fn one(v: &str) -> Vec<(String, String)> {
    vec![(AR.to_string(), v.to_string())]
}

fn many(vs: &[&str]) -> Vec<(String, String)> {
    vs.iter().map(|v| (AR.to_string(), v.to_string())).collect()
}

fn held(v: &Vouch) -> bool {
    matches!(v, Vouch::Unverified(_))
}

/// (server, header value, trusted authserv-id, method expected to vouch for unit.example)
const REAL: &[(&str, &str, &str, &str)] = &[
    (
        "Postfix + OpenDKIM",
        "mx.example.com;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=unit.example\r\n\theader.i=@unit.example header.a=rsa-sha256 header.s=default\r\n\theader.b=\"abcd1234\"",
        "mx.example.com",
        "dkim=pass",
    ),
    (
        "Postfix + OpenDKIM, insecure key, two signatures",
        "mx.example.com;\r\n\tdkim=pass (1024-bit key; insecure key)\r\n\theader.d=esp.example header.i=@esp.example header.b=\"Zz9/+x1y\";\r\n\tdkim=pass (2048-bit key; unprotected) header.d=unit.example\r\n\theader.i=@unit.example header.b=\"abcd1234\"",
        "mx.example.com",
        "dkim=pass",
    ),
    (
        "Postfix + OpenDMARC",
        "mx.example.com; dmarc=pass (p=none dis=none)\r\n\theader.from=unit.example",
        "mx.example.com",
        "dmarc=pass",
    ),
    (
        "Postfix + policyd-spf",
        "mx.example.com; spf=pass (sender SPF authorized)\r\n\tsmtp.mailfrom=unit.example (client-ip=192.0.2.10; helo=mail.unit.example;\r\n\tenvelope-from=hr@unit.example)",
        "mx.example.com",
        "spf=pass",
    ),
    (
        "Exim",
        "mx.example;\r\n\tiprev=pass (mail.unit.example) smtp.remote-ip=192.0.2.10;\r\n\tspf=pass smtp.mailfrom=unit.example;\r\n\tdkim=pass header.d=unit.example header.s=mail header.a=rsa-sha256;\r\n\tdmarc=pass header.from=unit.example",
        "mx.example",
        "spf=pass",
    ),
    (
        "Exim, IPv6 peer, SRS bounce address",
        "mx.example;\r\n\tiprev=pass (mail.unit.example) smtp.remote-ip=2001:db8::25;\r\n\tspf=pass smtp.mailfrom=SRS0=AbCd=XY=unit.example=hr@unit.example",
        "mx.example",
        "spf=pass",
    ),
    (
        "Gmail",
        "mx.google.com;\r\n\tdkim=pass header.i=@unit.example header.s=20230601 header.b=izgHs/vK;\r\n\tspf=pass (google.com: domain of hr@unit.example designates 192.0.2.10 as\r\n\tpermitted sender) smtp.mailfrom=hr@unit.example;\r\n\tdmarc=pass (p=NONE sp=NONE dis=NONE) header.from=unit.example",
        "mx.google.com",
        "dkim=pass",
    ),
    (
        "Gmail, SPF only",
        "mx.google.com;\r\n\tspf=pass (google.com: domain of hr@unit.example designates 192.0.2.10 as\r\n\tpermitted sender) smtp.mailfrom=hr@unit.example",
        "mx.google.com",
        "spf=pass",
    ),
    (
        "Microsoft 365 style behind a server that writes its authserv-id",
        "mx.zhangdian.example; spf=pass (sender IP is 192.0.2.10)\r\n\tsmtp.mailfrom=unit.example; dkim=pass (signature was verified)\r\n\theader.d=unit.example;dmarc=pass action=none\r\n\theader.from=unit.example;compauth=pass reason=100",
        "mx.zhangdian.example",
        "spf=pass",
    ),
    (
        "Yahoo",
        "atlas-production.v2-mail-prod1-gq1.omega.yahoo.com;\r\n\tdkim=pass header.i=@unit.example header.s=s2048;\r\n\tspf=pass smtp.mailfrom=unit.example;\r\n\tdmarc=pass(p=NONE) header.from=unit.example;",
        "atlas-production.v2-mail-prod1-gq1.omega.yahoo.com",
        "dkim=pass",
    ),
    (
        "rspamd",
        "mx.example.com;\r\n\tdkim=pass header.d=unit.example header.s=dkim header.b=AbCdEf12;\r\n\tspf=pass (mx.example.com: domain of hr@unit.example designates 192.0.2.10 as permitted sender) smtp.mailfrom=hr@unit.example;\r\n\tdmarc=pass reason=\"SPF/DKIM alignment\" (policy=none) header.from=unit.example",
        "mx.example.com",
        "dkim=pass",
    ),
    (
        "authserv-id with version, upper case everywhere",
        "MX.Example.COM 1;\r\n\tSPF=Pass Smtp.MailFrom=HR@Unit.Example.",
        "mx.example.com",
        "spf=pass",
    ),
];

/// Domains that must not be vouched for by any of the real headers.
const OTHERS: &[&str] = &[
    "other.example",
    "example",
    "sub.unit.example",
    "unit.example.evil.example",
    "evil-unit.example",
    "xunit.example",
    "unit.exampl",
    "unit-example",
];

#[test]
fn real_headers_pass_for_the_right_domain_only() {
    for (server, v, trusted, method) in REAL {
        assert_eq!(
            check(&one(v), Some(trusted), "unit.example"),
            Vouch::Pass((*method).to_string()),
            "{server}: {:?}",
            parse(v)
        );
        assert_eq!(
            check(
                &one(v),
                Some(&trusted.to_ascii_uppercase()),
                "UNIT.Example."
            ),
            Vouch::Pass((*method).to_string()),
            "{server}, case and trailing dot"
        );
        for other in OTHERS {
            assert!(
                held(&check(&one(v), Some(trusted), other)),
                "{server} vouched for {other}"
            );
        }
        assert!(
            held(&check(&one(v), Some("mx.other.example"), "unit.example")),
            "{server} trusted under another authserv-id"
        );
        assert!(held(&check(&one(v), None, "unit.example")), "{server}");
    }
}

#[test]
fn real_headers_survive_mail_parser() {
    // The way `inbox` reads them: raw header values of a parsed message.
    for (server, v, trusted, method) in REAL {
        let raw = format!(
            "Authentication-Results: {v}\r\nFrom: hr@unit.example\r\nTo: rsj@zhangdian.example\r\nSubject: x\r\n\r\nbody\r\n"
        );
        let msg = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        let headers: Vec<(String, String)> = msg
            .headers_raw()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            check(&headers, Some(trusted), "unit.example"),
            Vouch::Pass((*method).to_string()),
            "{server}: {headers:?}"
        );
    }
}

#[test]
fn microsoft_365_without_authserv_id_is_never_trusted() {
    let m365 = "spf=pass (sender IP is 192.0.2.10)\r\n smtp.mailfrom=unit.example; dkim=pass (signature was verified)\r\n header.d=unit.example;dmarc=pass action=none\r\n header.from=unit.example;compauth=pass reason=100";
    assert_eq!(parse(m365).unwrap_err().authserv_id, None);
    for trusted in [
        "mx.zhangdian.example",
        "spf",
        "spf=pass",
        "protection.outlook.com",
    ] {
        assert!(held(&check(&one(m365), Some(trusted), "unit.example")));
        // Nor does it let a header below it speak for the trusted server.
        let forged = format!("{trusted}; spf=pass smtp.mailfrom=unit.example");
        let v = check(&many(&[m365, &forged]), Some(trusted), "unit.example");
        assert!(held(&v), "{trusted}: {v:?}");
    }
}

const T: &str = "mx.trusted.example";

/// Hostile header sets (in message order) for a From at a.example, trusted server `T`.
fn hostile() -> Vec<(&'static str, Vec<String>)> {
    let t = |s: &str| format!("{T}; {s}");
    vec![
        // Quoted strings.
        (
            "quoted local part smuggles a second smtp.mailfrom",
            vec![t(
                r#"spf=pass smtp.mailfrom="x smtp.mailfrom=hr@a.example y"@evil.example"#,
            )],
        ),
        (
            "escaped quotes inside the local part",
            vec![t(
                r#"spf=pass smtp.mailfrom="x\" smtp.mailfrom=hr@a.example \"y"@evil.example"#,
            )],
        ),
        (
            "unclosed quote",
            vec![t(r#"spf=pass smtp.mailfrom="hr@a.example"#)],
        ),
        (
            "unclosed quote swallowing the rest",
            vec![t(
                r#"spf=pass smtp.mailfrom="x; dkim=pass header.d=a.example"#,
            )],
        ),
        (
            "quoted string glued to a value",
            vec![t(r#"spf=pass smtp.mailfrom=hr@a.example"x"@evil.example"#)],
        ),
        (
            "quoted value with a space",
            vec![t(r#"dmarc=pass header.from="a.example evil.example""#)],
        ),
        (
            "quoted result",
            vec![t(r#"spf="pass" smtp.mailfrom=hr@a.example"#)],
        ),
        // Comments.
        (
            "quote inside a comment",
            vec![t(
                r#"spf=pass (comment with ")" smtp.mailfrom=hr@a.example) smtp.mailfrom=x@evil.example"#,
            )],
        ),
        (
            "properties hidden in a comment",
            vec![t(
                "spf=pass (smtp.mailfrom=hr@a.example) smtp.mailfrom=x@evil.example",
            )],
        ),
        (
            "properties hidden in a nested comment",
            vec![t(
                "dkim=pass (a (b) header.d=a.example) header.d=evil.example",
            )],
        ),
        (
            "escaped paren inside a comment",
            vec![t(
                r"spf=pass (x\) smtp.mailfrom=hr@a.example) smtp.mailfrom=x@evil.example",
            )],
        ),
        (
            ") inside a quoted string inside a comment",
            vec![t(
                r#"spf=pass (domain of "x) smtp.mailfrom=hr@a.example (y"@evil.example designates 192.0.2.1) smtp.mailfrom="x) smtp.mailfrom=hr@a.example (y"@evil.example"#,
            )],
        ),
        (
            "a new method result smuggled through a comment",
            vec![t(
                r#"spf=pass (google.com: domain of "x); dkim=pass header.d=a.example (y"@evil.example designates 192.0.2.1 as permitted sender) smtp.mailfrom="x); dkim=pass header.d=a.example (y"@evil.example"#,
            )],
        ),
        (
            "a space-less HELO name copied into a comment",
            vec![t(
                "iprev=pass (helo=x);dkim=pass(c)header.d=a.example(y) smtp.remote-ip=192.0.2.1",
            )],
        ),
        (
            "unclosed comment",
            vec![t("spf=pass (unbalanced smtp.mailfrom=hr@a.example")],
        ),
        (
            "unclosed nested comment",
            vec![t("spf=pass smtp.mailfrom=hr@a.example ((nested) x")],
        ),
        (
            "stray closing paren",
            vec![t(
                "spf=pass smtp.mailfrom=x@evil.example) smtp.mailfrom=hr@a.example",
            )],
        ),
        (
            "stray closing paren after a value",
            vec![t("spf=pass smtp.mailfrom=hr@a.example)")],
        ),
        (
            "authserv-id only in a comment",
            vec![format!("({T}) x; spf=pass smtp.mailfrom=a.example")],
        ),
        (
            "very deep unclosed nesting",
            vec![t(&format!(
                "spf=pass {}smtp.mailfrom=a.example",
                "(".repeat(50_000)
            ))],
        ),
        // Duplicates and leftovers.
        (
            "duplicated smtp.mailfrom",
            vec![t(
                "spf=pass smtp.mailfrom=hr@a.example smtp.mailfrom=x@evil.example",
            )],
        ),
        (
            "duplicated smtp.mailfrom, other order",
            vec![t(
                "spf=pass smtp.mailfrom=x@evil.example smtp.mailfrom=hr@a.example",
            )],
        ),
        (
            "duplicated property in another case",
            vec![t(
                "spf=pass smtp.mailfrom=hr@a.example SMTP.MailFrom=x@evil.example",
            )],
        ),
        (
            "duplicated header.d",
            vec![t("dkim=pass header.d=a.example header.d=evil.example")],
        ),
        (
            "duplicated reason",
            vec![t("dkim=pass reason=a reason=b header.d=a.example")],
        ),
        (
            "trailing garbage",
            vec![t("spf=pass smtp.mailfrom=hr@a.example garbage")],
        ),
        (
            "trailing address",
            vec![t("spf=pass smtp.mailfrom=hr@a.example @evil.example")],
        ),
        (
            "text after none",
            vec![t("none; spf=pass smtp.mailfrom=a.example")],
        ),
        (
            "empty method result",
            vec![t("spf=fail;; spf=pass smtp.mailfrom=a.example")],
        ),
        (
            "missing value",
            vec![t("spf=pass smtp.mailfrom= ; dkim=pass header.d=a.example")],
        ),
        (
            "two addresses in one value",
            vec![t("spf=pass smtp.mailfrom=hr@a.example@evil.example")],
        ),
        (
            "address where header.d wants a domain",
            vec![t("dkim=pass header.d=hr@a.example")],
        ),
        (
            "angle brackets",
            vec![t("spf=pass smtp.mailfrom=<hr@a.example>")],
        ),
        (
            "address literal",
            vec![t("spf=pass smtp.mailfrom=hr@[192.0.2.1]")],
        ),
        (
            "comma list",
            vec![t("dmarc=pass header.from=a.example,evil.example")],
        ),
        (
            "control character",
            vec![t("spf=pass smtp.mailfrom=hr@a.example\u{0}")],
        ),
        (
            "bare line feed starting a new line",
            vec![t(
                "spf=fail smtp.mailfrom=x@evil.example\nspf=pass smtp.mailfrom=hr@a.example",
            )],
        ),
        (
            "no-break space as a separator",
            vec![t("spf=pass\u{a0}smtp.mailfrom=hr@a.example")],
        ),
        (
            "full-width semicolon",
            vec![t("spf=pass smtp.mailfrom=hr@a.example；dkim=pass")],
        ),
        (
            "zero-width space in the domain",
            vec![t("spf=pass smtp.mailfrom=hr@a.example\u{200b}")],
        ),
        (
            "Cyrillic look-alike",
            vec![t("spf=pass smtp.mailfrom=hr@\u{430}.example")],
        ),
        // Wrong header, wrong server.
        (
            "forged header below the trusted one",
            vec![
                t("spf=fail smtp.mailfrom=hr@a.example"),
                t("spf=pass smtp.mailfrom=hr@a.example"),
            ],
        ),
        (
            "forged header below a trusted none",
            vec![t("none"), t("dkim=pass header.d=a.example")],
        ),
        (
            "forged header below an unreadable trusted one",
            vec![
                t(r#"spf=pass (domain of "x) y"@evil.example) smtp.mailfrom="x) y"@evil.example"#),
                t("spf=pass smtp.mailfrom=hr@a.example"),
            ],
        ),
        (
            "forged header in upper case below the trusted one",
            vec![
                t("spf=softfail smtp.mailfrom=a.example"),
                format!("{}; spf=pass smtp.mailfrom=a.example", T.to_uppercase()),
            ],
        ),
        (
            "another authserv-id only",
            vec!["mx.evil.example; spf=pass smtp.mailfrom=hr@a.example".into()],
        ),
        (
            "another authserv-id on top of a failing trusted one",
            vec![
                "mx.evil.example; spf=pass smtp.mailfrom=hr@a.example".into(),
                t("spf=fail smtp.mailfrom=hr@a.example"),
            ],
        ),
        (
            "authserv-id extended",
            vec![format!(
                "{T}.evil.example; spf=pass smtp.mailfrom=hr@a.example"
            )],
        ),
        (
            "authserv-id prefix",
            vec!["mx.trusted.exampl; spf=pass smtp.mailfrom=hr@a.example".into()],
        ),
        (
            "authserv-id glued to a result",
            vec![format!("{T}spf=pass smtp.mailfrom=hr@a.example")],
        ),
        (
            "authserv-id quoted with more",
            vec![format!("\"{T} x\"; spf=pass smtp.mailfrom=hr@a.example")],
        ),
        (
            "no authserv-id on top of a forged one",
            vec![
                "spf=pass smtp.mailfrom=a.example".into(),
                t("spf=pass smtp.mailfrom=a.example"),
            ],
        ),
        // Wrong domain or wrong property.
        (
            "spf for a subdomain",
            vec![t("spf=pass smtp.mailfrom=hr@sub.a.example")],
        ),
        (
            "spf for a look-alike suffix",
            vec![t("spf=pass smtp.mailfrom=hr@a.example.evil.example")],
        ),
        (
            "spf for a look-alike prefix",
            vec![t("spf=pass smtp.mailfrom=evil-a.example")],
        ),
        (
            "spf for the parent",
            vec![t("spf=pass smtp.mailfrom=example")],
        ),
        (
            "spf percent hack",
            vec![t("spf=pass smtp.mailfrom=hr%a.example@evil.example")],
        ),
        (
            "spf for the HELO name only",
            vec![t("spf=pass smtp.helo=a.example")],
        ),
        (
            "spf with header.from only",
            vec![t("spf=pass header.from=a.example")],
        ),
        (
            "dkim with header.from only",
            vec![t("dkim=pass header.from=a.example")],
        ),
        (
            "dkim by another domain with the right header.i",
            vec![t("dkim=pass header.d=evil.example header.i=@a.example")],
        ),
        (
            "dkim by the right domain with another header.i",
            vec![t("dkim=pass header.d=a.example header.i=@evil.example")],
        ),
        (
            "dkim with only a selector",
            vec![t("dkim=pass header.s=a.example")],
        ),
        (
            "dmarc with smtp.mailfrom only",
            vec![t("dmarc=pass smtp.mailfrom=a.example")],
        ),
        (
            "unknown method",
            vec![t("x-spf=pass smtp.mailfrom=hr@a.example")],
        ),
        ("iprev pass", vec![t("iprev=pass policy.iprev=a.example")]),
        (
            "softfail in mixed case",
            vec![t("SPF=SoftFail Smtp.MailFrom=HR@A.EXAMPLE")],
        ),
        (
            "pass hidden in reason",
            vec![t(
                r#"spf=fail reason="spf=pass smtp.mailfrom=hr@a.example" smtp.mailfrom=x@evil.example"#,
            )],
        ),
        (
            "upper-case look-alike",
            vec![t("spf=pass smtp.mailfrom=HR@A.EXAMPLE.EVIL.EXAMPLE")],
        ),
    ]
}

#[test]
fn hostile_headers_are_all_held() {
    for (what, headers) in hostile() {
        let hs: Vec<(String, String)> = headers
            .iter()
            .map(|v| (AR.to_string(), v.clone()))
            .collect();
        let v = check(&hs, Some(T), "a.example");
        assert!(held(&v), "{what}: {v:?}");
        if let Vouch::Unverified(why) = v {
            assert!(
                !why.is_empty() && !why.is_ascii(),
                "{what}: reason in Chinese: {why}"
            );
        }
    }
}

#[test]
fn the_reasons_say_what_was_wrong() {
    let v = check(
        &one(&format!(
            "{T}; spf=pass smtp.mailfrom=hr@a.example smtp.mailfrom=x@evil.example"
        )),
        Some(T),
        "a.example",
    );
    let Vouch::Unverified(why) = v else { panic!() };
    assert!(
        why.contains("无法准确解析") && why.contains("smtp.mailfrom"),
        "{why}"
    );
    let v = check(
        &one(&format!("{T}; spf=pass (\"x\") smtp.mailfrom=a.example")),
        Some(T),
        "a.example",
    );
    let Vouch::Unverified(why) = v else { panic!() };
    assert!(why.contains("引号"), "{why}");
    let v = check(
        &one("spf=pass smtp.mailfrom=a.example"),
        Some(T),
        "a.example",
    );
    let Vouch::Unverified(why) = v else { panic!() };
    assert!(why.contains("authserv-id"), "{why}");
    let v = check(
        &one(&format!("{T}; spf=pass smtp.mailfrom=evil.example")),
        Some(T),
        "a.example",
    );
    let Vouch::Unverified(why) = v else { panic!() };
    assert!(
        why.contains("a.example") && why.contains("spf=pass"),
        "{why}"
    );
}

#[test]
fn the_grammar_reports_its_defects() {
    let d = |s: &str| parse(s).unwrap_err().defect;
    assert_eq!(d("mx; spf=pass smtp.mailfrom=\"x"), Defect::UnclosedQuote);
    assert_eq!(d("mx; spf=pass (x"), Defect::UnclosedComment);
    assert_eq!(d("mx; spf=pass x)"), Defect::StrayParen);
    assert_eq!(d("mx; spf=pass x y"), Defect::Garbage);
    assert_eq!(d("mx; spf=pass )"), Defect::StrayParen);
    assert_eq!(d("mx; spf=pass (\"x\")"), Defect::QuoteInComment);
    assert_eq!(
        d("mx; spf=pass (c)smtp.mailfrom=a.example"),
        Defect::GluedToComment
    );
    assert_eq!(
        d("mx; spf=pass smtp.mailfrom=a smtp.mailfrom=a"),
        Defect::Duplicate("smtp.mailfrom".into())
    );
    assert_eq!(
        d("mx; dkim=pass header.d=a@b.example"),
        Defect::Unclean("header.d".into())
    );
    assert_eq!(
        d("mx; spf=pass smtp.mailfrom="),
        Defect::MissingValue("smtp.mailfrom".into())
    );
    assert_eq!(d("mx; none x"), Defect::AfterNone);
    assert_eq!(d("mx"), Defect::NoResults);
    assert_eq!(d("mx;"), Defect::NoResults);
    assert_eq!(d("mx; =pass"), Defect::BadMethod);
    assert_eq!(d("mx; spf=pass\u{1}"), Defect::Control);
    assert_eq!(d("=mx; spf=pass"), Defect::NoAuthservId);
    // Legal corners.
    assert!(
        parse("mx (c) ; spf = pass (c) smtp . mailfrom = (c) hr@a.example (c) ; dkim=none").is_ok()
    );
    assert!(parse("\"mx x\"; spf=pass smtp.mailfrom=\"\"@a.example").is_ok());
    assert!(parse(" mx;\r\n spf=pass\r\n\tsmtp.mailfrom=a.example\r\n").is_ok());
    assert_eq!(domain_of("\"x\"@A.Example."), "a.example");
}

/// Pieces that hostile and harmless headers are made of.
const PIECES: &[&str] = &[
    "spf=pass",
    "dkim=pass",
    "dmarc=pass",
    "spf=fail",
    "SPF=PASS",
    "smtp.mailfrom=",
    "header.d=",
    "header.i=@",
    "header.from=",
    "header.s=",
    "reason=",
    "hr@a.example",
    "a.example",
    "A.Example",
    "evil.example",
    "x@evil.example",
    "sub.a.example",
    "\"",
    "\\",
    "(",
    ")",
    ";",
    " ",
    "\r\n\t",
    "\n",
    "=",
    "@",
    ".",
    "x",
    "none",
    "mx.trusted.example",
    "\u{a0}",
    "；",
];

fn pieces() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn never_panics_on_anything(s in ".{0,300}", t in "[a-z.]{0,20}") {
        let _ = parse(&s);
        let _ = check(&one(&s), Some(&t), "a.example");
        let _ = check(&one(&s), Some(T), "a.example");
        let _ = domain_of(&s);
    }

    #[test]
    fn passes_only_on_a_literal_pass_for_the_domain(body in pieces(), lead in prop::sample::select(&["", "mx.trusted.example;", "mx.trusted.example; ", "spf=pass "][..])) {
        let s = format!("{lead}{body}");
        if let Vouch::Pass(m) = check(&one(&s), Some(T), "a.example") {
            let lower = s.to_ascii_lowercase();
            prop_assert!(lower.contains(&m), "{s:?} passed by {m} without a literal {m}");
            prop_assert!(lower.contains("a.example"), "{s:?}");
            prop_assert!(lower.contains(T), "{s:?}");
            let ar = parse(&s).unwrap();
            prop_assert!(ar.results.iter().any(|r| r.result == "pass"), "{s:?}");
        }
    }

    #[test]
    fn a_header_below_the_trusted_one_changes_nothing(body in pieces()) {
        let top = format!("{T};{body}");
        let forged = format!("{T}; spf=pass smtp.mailfrom=a.example");
        prop_assert_eq!(
            check(&many(&[&top, &forged]), Some(T), "a.example"),
            check(&one(&top), Some(T), "a.example")
        );
    }
}
