//! Issue 11: every workbook chieftech writes prints on A4 as a person would lay it out.
//!
//! The demo's 2024 summary and bank file, an error workbook (a unit's report with a bad row,
//! the template's example row and the footer units add by habit) and both templates are
//! rendered by LibreOffice to PDF and checked with poppler:
//! - `pdfinfo`: page count within a range, A4 (842 × 595 pt), landscape;
//! - the print setup in the xlsx XML: A4 (`paperSize="9"`), landscape, fitted to one page
//!   wide (`fitToPage`, `fitToWidth` 1, `fitToHeight="0"`), no fixed `scale` below 70;
//! - the scale LibreOffice actually printed at, per page: a CJK character is as wide as its
//!   font size, so the width of a word of known font size (a header cell repeated on every
//!   page) over its characters, divided by that size, is the page's scale (`pdftotext -bbox`).
//!   Every page must be at 70 % or more;
//! - `pdftotext`: the 大写 total, 合计 and 单位（盖章） are there; tables are not split.
//!
//! Under CI=true a missing LibreOffice or poppler fails the test; elsewhere it is skipped.
//! With CHIEFTECH_DOCS_PNGS=1 the pictures of the README are written to docs/.

#[path = "support/print.rs"]
mod print;

use print::{assert_page_setup, read_pdf, to_pdf, tools_present, Pdf};
use std::path::{Path, PathBuf};
use std::process::Command;

fn chieftech(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chieftech"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("RUST_LOG");
    let _ = dir;
    c
}

/// A unit's report as units fill it in: header, the template's example row, a good row, a row
/// with a bad date, a person not on the roster, and the footer they add by habit.
fn unit_report(path: &Path, name: &str, id: &str) {
    use rust_xlsxwriter::Workbook;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("变动").unwrap();
    let rows: Vec<Vec<&str>> = vec![
        vec![
            "姓名",
            "身份证号码",
            "变动类型",
            "生效日期",
            "结束日期",
            "新单位",
            "批准文号",
            "称号批准文号",
            "说明",
        ],
        vec![
            "示例：张三",
            "370303199001011234",
            "退休",
            "2024-05-20",
            "",
            "",
            "张人社字〔2024〕8号",
            "",
            "2024年5月办理退休手续",
        ],
        vec![name, id, "退休", "2024-13-45", "", "", "", "", "日期写错"],
        vec![
            "查无此人",
            "110101199003070011",
            "死亡",
            "2024-03-01",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![],
        vec![
            "填报单位（盖章）：张店区示例机械制造有限公司",
            "",
            "",
            "填报人：王五",
        ],
        vec!["联系电话：0533-2181234"],
        vec!["填报日期：2024年11月15日"],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
    }
    wb.save(path).unwrap();
}

/// A roster as the bureau keeps it, from the demo's first `n` people, with a bad approval date
/// (row 3), an ID number with a wrong check digit (row 5) and no bank account (row 7).
fn bad_roster(path: &Path, people: &[chieftech::input::RosterEntry]) {
    use chieftech::excel::roster::ROSTER_COLUMNS;
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("名册").unwrap();
    for (c, col) in ROSTER_COLUMNS.iter().enumerate() {
        ws.write_string(0, c as u16, col.name).unwrap();
    }
    for (i, p) in people.iter().enumerate() {
        let mut id = p.id_number.as_str().to_string();
        let mut date = p.approval_date.to_string();
        let mut account = p.bank_account.clone();
        match i {
            1 => date = "2021-13-45".into(),
            3 => {
                let last = if id.ends_with('0') { '1' } else { '0' };
                id.pop();
                id.push(last);
            }
            5 => account.clear(),
            _ => {}
        }
        let cells = [
            p.name.as_str(),
            &id,
            &p.unit,
            &p.occupation,
            &p.level,
            &date,
            &p.approval_no,
            &account,
            &p.bank_name,
            &p.phone,
            p.email.as_deref().unwrap_or(""),
        ];
        for (c, v) in cells.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(i as u32 + 1, c as u16, *v).unwrap();
            }
        }
    }
    wb.save(path).unwrap();
}

fn png(pdf: &Path, page: usize, name: &str) {
    if std::env::var("CHIEFTECH_DOCS_PNGS").is_err() {
        return;
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    let p = page.to_string();
    let ok = Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", &p, "-l", &p, "-singlefile"])
        .arg(pdf)
        .arg(out.with_extension(""))
        .status()
        .expect("pdftoppm runs")
        .success();
    assert!(ok);
    let len = std::fs::metadata(&out).unwrap().len();
    assert!(len < 200_000, "{} is {len} bytes", out.display());
}

#[test]
fn every_workbook_prints_on_a4_at_a_readable_scale() {
    if !tools_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo");
    let o = chieftech(tmp.path())
        .args(["demo", "--people", "60", "-o"])
        .arg(&demo)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pdf_dir = tmp.path().join("pdf");
    std::fs::create_dir_all(&pdf_dir).unwrap();

    // The summary.
    let summary = demo.join("reports/2024/summary-2024-run1.xlsx");
    assert_page_setup(&summary);
    let s = read_pdf(&to_pdf(&summary, &pdf_dir));
    s.assert_a4_landscape("summary");
    assert!((4..=80).contains(&s.pages), "summary: {} pages", s.pages);
    // Every page starts with the title and the identification line (编制单位 at 10 pt).
    let scale = s.assert_scale("summary", "编制单位", 10.0);
    eprintln!(
        "summary: {} pages, smallest scale {:.0} %",
        s.pages,
        scale * 100.0
    );
    let totals = s.pages_with("第1批 汇总");
    assert!((3..=5).contains(&totals.len()), "汇总 on pages {totals:?}");
    let text = s.all_text();
    for want in [
        "人民币",
        "合计",
        "单位（盖章）",
        "制表日期",
        "编制单位（盖章）",
    ] {
        assert!(text.contains(want), "summary: no {want}");
    }
    // Tables whole: each table's title and its 合计 row on one page; 小写 and 大写 together;
    // the chart alone on its page.
    for (a, b) in [
        ("一、按单位汇总", "五、代发文件控制数"),
        ("三、按明细类型汇总", "合计（净额）"),
        ("发放总额（小写）", "发放总额（大写）"),
        ("追缴总额（小写）", "追缴总额（大写）"),
        ("五、代发文件控制数", "CT-2024-R1-P1"),
        ("经办人", "单位（盖章）"),
    ] {
        let pa = s.pages_with(a);
        let pb = s.pages_with(b);
        if a.starts_with("一") {
            assert!(pa.iter().all(|p| !pb.contains(p)) || pa.len() == 1);
            continue;
        }
        assert!(
            pa.iter().any(|p| pb.contains(p)),
            "`{a}` (pages {pa:?}) and `{b}` (pages {pb:?}) are split"
        );
    }
    let chart = s.pages_with("六、各单位发放金额");
    assert_eq!(chart.len(), 1, "{chart:?}");
    let chart_page = &s.text[chart[0] - 1];
    assert!(!chart_page.contains("合计") && !chart_page.contains("经办人"));
    // 明细, 追缴, 未覆盖: titled pages; 追缴 signed.
    for want in ["明细表", "追缴清单", "未覆盖月份清单"] {
        assert!(text.contains(want), "summary: no {want}");
    }
    let recovery_pages = s.pages_with("第1批 追缴");
    assert!(recovery_pages
        .iter()
        .any(|p| s.text[p - 1].contains("单位（盖章）")));
    png(
        &s_pdf(&pdf_dir, "summary-2024-run1"),
        totals[0],
        "summary.png",
    );
    png(
        &s_pdf(&pdf_dir, "summary-2024-run1"),
        s.pages_with("第1批 明细")[0],
        "summary-details.png",
    );

    // The summary of 2026: the uncovered months, one line per person with a range.
    let s26 = demo.join("reports/2026/summary-2026-run1.xlsx");
    let p26 = read_pdf(&to_pdf(&s26, &pdf_dir));
    p26.assert_scale("summary 2026", "编制单位", 10.0);
    let t26 = p26.all_text();
    assert!(t26.contains("2026-09至2026-12"), "uncovered as ranges");
    assert!(t26.contains("影响金额"));

    // The bank file: batch, payer and date on every page; 经办/复核.
    let bank = demo.join("reports/2024/bank-2024-run1.xlsx");
    assert_page_setup(&bank);
    let b = read_pdf(&to_pdf(&bank, &pdf_dir));
    b.assert_a4_landscape("bank file");
    assert!((1..=3).contains(&b.pages), "bank: {} pages", b.pages);
    let scale = b.assert_scale("bank file", "序号", 10.0);
    eprintln!(
        "bank: {} pages, smallest scale {:.0} %",
        b.pages,
        scale * 100.0
    );
    for page in &b.text {
        for want in ["付款单位", "CT-2024-R1-P1", "经办", "复核", "2024年12月1日"] {
            assert!(page.contains(want), "bank page without {want}:\n{page}");
        }
    }
    assert!(b.all_text().contains("合计（"));
    assert!(b.all_text().contains("金额（元）"));
    png(&s_pdf(&pdf_dir, "bank-2024-run1"), 1, "bank.png");

    // The error workbook of a unit's report: the example row and the footer are not read.
    let inputs = demo.join("inputs");
    let mut wb = chieftech::excel::read::Workbook::open(&inputs.join("roster.xlsx")).unwrap();
    let roster = chieftech::excel::roster::read_roster_all(&mut wb, "roster").unwrap();
    let someone = &roster.entries[0];
    let report = tmp.path().join("report.xlsx");
    unit_report(&report, &someone.name, someone.id_number.as_str());
    let o = chieftech(tmp.path())
        .arg("--database")
        .arg(format!("sqlite://{}", demo.join("demo.db").display()))
        .args(["import", "changes"])
        .arg(&report)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for row in [
        "第2行", "row 2 ", "第6行", "row 6 ", "第7行", "row 7 ", "第8行", "row 8 ",
    ] {
        assert!(
            !err.contains(row),
            "the example row or the footer was read: {err}"
        );
    }
    let errors = tmp.path().join("report.errors.xlsx");
    assert!(errors.exists(), "{err}");
    if let Ok(keep) = std::env::var("CHIEFTECH_KEEP_PRINTS") {
        std::fs::copy(&errors, Path::new(&keep).join("report.errors.xlsx")).unwrap();
    }
    assert_page_setup(&errors);
    let e = read_pdf(&to_pdf(&errors, &pdf_dir));
    e.assert_a4_landscape("error workbook");
    assert_eq!(e.pages, 1);
    let scale = e.assert_scale("error workbook", "姓名", 11.0);
    eprintln!("error workbook: smallest scale {:.0} %", scale * 100.0);
    let et: String = e.all_text().split_whitespace().collect();
    assert!(et.contains("错误说明") && et.contains("不在名"), "{et}");
    png(&s_pdf(&pdf_dir, "report.errors"), 1, "errors.png");
    // The error workbook keeps the template's notes, validation and text-formatted ID column.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&errors).unwrap()).unwrap();
    let mut all = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let _ = std::io::Read::read_to_string(&mut f, &mut all);
    }
    assert!(all.contains("<comments"), "notes");
    assert!(all.contains("dataValidation"), "validation");
    assert!(all.contains("调往区外,"), "the kind list");
    assert!(
        all.contains("numFmtId=\"49\"") || all.contains("formatCode=\"@\""),
        "text format"
    );
    assert!(
        all.contains("<pane ") && all.contains("frozen"),
        "frozen header"
    );

    // The error workbook of a roster (eleven columns, long unit and bank names): still one
    // page wide at a readable scale, long text wrapped.
    let bad = tmp.path().join("roster.xlsx");
    let people: Vec<_> = roster.entries.iter().take(12).cloned().collect();
    bad_roster(&bad, &people);
    let o = chieftech(tmp.path())
        .arg("--database")
        .arg(format!("sqlite://{}", demo.join("demo.db").display()))
        .args(["import", "roster"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for row in [
        "row 3, column 批准日期",
        "row 5, column 身份证号码",
        "row 7, column 银行账号",
    ] {
        assert!(err.contains(row), "no `{row}`: {err}");
    }
    let errors = tmp.path().join("roster.errors.xlsx");
    assert!(errors.exists(), "{err}");
    if let Ok(keep) = std::env::var("CHIEFTECH_KEEP_PRINTS") {
        std::fs::copy(&errors, Path::new(&keep).join("roster.errors.xlsx")).unwrap();
    }
    assert_page_setup(&errors);
    let pdf = to_pdf(&errors, &pdf_dir);
    if let Ok(keep) = std::env::var("CHIEFTECH_KEEP_PRINTS") {
        std::fs::copy(&pdf, Path::new(&keep).join("roster.errors.pdf")).unwrap();
    }
    let r = read_pdf(&pdf);
    r.assert_a4_landscape("roster error workbook");
    assert!(
        (1..=2).contains(&r.pages),
        "roster error workbook: {} pages",
        r.pages
    );
    let scale = r.assert_scale("roster error workbook", "姓名", 11.0);
    eprintln!(
        "roster error workbook: smallest scale {:.0} %",
        scale * 100.0
    );
    let rt: String = r.all_text().split_whitespace().collect();
    for want in [
        "错误说明",
        "【批准日期】",
        "【身份证号码】",
        "【银行账号】",
        &people[0].name,
        people[0].id_number.as_str(),
    ] {
        assert!(rt.contains(want), "roster error workbook: no {want}: {rt}");
    }
    // Long text wraps: its cells wrap and its rows are as high as their lines.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&errors).unwrap()).unwrap();
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    let mut styles = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/styles.xml").unwrap(), &mut styles).unwrap();
    assert!(styles.contains("wrapText=\"1\""), "wrapped cells");
    assert!(sheet.contains("customHeight=\"1\""), "row heights");

    // Both templates.
    for (kind, pages, word) in [("roster", 1..=3, "姓名"), ("changes", 1..=1, "姓名")] {
        let t = tmp.path().join(format!("{kind}-template.xlsx"));
        let o = chieftech(tmp.path())
            .args(["template", kind, "-o"])
            .arg(&t)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_page_setup(&t);
        let p = read_pdf(&to_pdf(&t, &pdf_dir));
        p.assert_a4_landscape(kind);
        assert!(pages.contains(&p.pages), "{kind}: {} pages", p.pages);
        let text = p.all_text();
        for want in ["填表说明", "填报单位（盖章）", "填报人", "填报日期", "示例"]
        {
            assert!(text.contains(want), "{kind}: no {want}");
        }
        // The first sheet's pages (the 单位 sheet's header is 单位名称).
        let first: Vec<usize> = p.pages_with("首席技师名册");
        let check = Pdf {
            pages: p.pages,
            size: p.size,
            text: p.text.clone(),
            words: p
                .words
                .iter()
                .enumerate()
                .filter(|(i, _)| kind == "changes" || first.contains(&(i + 1)))
                .map(|(_, w)| w.clone())
                .collect(),
        };
        let scale = check.assert_scale(kind, word, 11.0);
        eprintln!(
            "{kind} template: {} pages, smallest scale {:.0} %",
            p.pages,
            scale * 100.0
        );

        // An untouched template imports as "no data rows" (the example row is not data).
        let mut wb = chieftech::excel::read::Workbook::open(&t).unwrap();
        if kind == "changes" {
            let r = chieftech::excel::changes::read_changes(&mut wb, "t").unwrap();
            assert!(r.entries.is_empty() && r.rows == 0, "{:?}", r.problems);
        } else {
            let r = chieftech::excel::roster::read_roster_all(&mut wb, "t").unwrap();
            assert!(
                r.entries.is_empty() && r.units.is_empty(),
                "{:?}",
                r.read.problems
            );
            assert_eq!(r.read.rows, 0);
        }
    }
}

fn s_pdf(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.pdf"))
}
