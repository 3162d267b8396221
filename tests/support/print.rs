//! Print checks shared by the tests that render workbooks with LibreOffice: the tools, the
//! conversion to PDF, what poppler reads back (pages, size, text, word widths: the printed
//! scale), and the print setup in the xlsx XML. Under CI=true a missing LibreOffice or poppler
//! fails; elsewhere the test is skipped loudly.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn tool(name: &str) -> bool {
    Command::new(name)
        .arg(if name == "soffice" { "--version" } else { "-v" })
        .output()
        .is_ok()
}

/// Whether LibreOffice and poppler are there (panics under CI=true when not).
pub fn tools_present() -> bool {
    let missing: Vec<&str> = ["soffice", "pdfinfo", "pdftotext"]
        .into_iter()
        .filter(|t| !tool(t))
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{missing:?} not installed under CI=true: apt-get install libreoffice-calc poppler-utils");
    }
    eprintln!("\n*** SKIPPED print test: {missing:?} not installed ***\n");
    false
}

/// Converts one workbook to PDF with a private LibreOffice profile.
pub fn to_pdf(file: &Path, out: &Path) -> PathBuf {
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.path().join("lo").display()
        ))
        .args([
            "--headless",
            "--norestore",
            "--nologo",
            "--convert-to",
            "pdf",
            "--outdir",
        ])
        .arg(out)
        .arg(file)
        .env("HOME", profile.path())
        .output()
        .expect("soffice runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pdf = out.join(file.with_extension("pdf").file_name().unwrap());
    assert!(pdf.exists(), "{}", String::from_utf8_lossy(&o.stdout));
    pdf
}

pub struct Pdf {
    pub pages: usize,
    /// Width and height in points.
    pub size: (f64, f64),
    /// Each page's text.
    pub text: Vec<String>,
    /// Each page's words with their width (points).
    pub words: Vec<Vec<(String, f64)>>,
}

pub fn read_pdf(pdf: &Path) -> Pdf {
    let info = Command::new("pdfinfo").arg(pdf).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|p| p.trim().parse().unwrap())
        .unwrap();
    let size = info
        .lines()
        .find_map(|l| l.strip_prefix("Page size:"))
        .map(|s| {
            let v: Vec<f64> = s
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            (v[0], v[1])
        })
        .unwrap();
    let t = Command::new("pdftotext")
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    let text: Vec<String> = String::from_utf8_lossy(&t.stdout)
        .split('\u{c}')
        .take(pages)
        .map(str::to_string)
        .collect();
    let b = Command::new("pdftotext")
        .arg("-bbox")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&b.stdout).to_string();
    let mut words = Vec::new();
    for page in html.split("<page ").skip(1) {
        let mut v = Vec::new();
        for w in page.split("<word ").skip(1) {
            let attr = |name: &str| -> f64 {
                let at = w.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                w[at..at + w[at..].find('"').unwrap()].parse().unwrap()
            };
            let text = w[w.find('>').unwrap() + 1..w.find("</word>").unwrap()].to_string();
            v.push((text, attr("xMax") - attr("xMin")));
        }
        words.push(v);
    }
    Pdf {
        pages,
        size,
        text,
        words,
    }
}

impl Pdf {
    pub fn assert_a4_landscape(&self, what: &str) {
        let (w, h) = self.size;
        assert!(
            (w - 841.9).abs() < 2.0 && (h - 595.3).abs() < 2.0,
            "{what}: not A4 landscape: {w} × {h}"
        );
    }

    /// The scale of each page: the width per character of the first word starting with
    /// `word` (all wide characters, `pt` points at 100 %) over `pt`.
    pub fn scales(&self, word: &str, pt: f64) -> Vec<f64> {
        self.words
            .iter()
            .enumerate()
            .map(|(i, ws)| {
                let (text, width) = ws
                    .iter()
                    .find(|(t, _)| t.starts_with(word))
                    .unwrap_or_else(|| panic!("page {}: no `{word}`", i + 1));
                width / text.chars().count() as f64 / pt
            })
            .collect()
    }

    pub fn assert_scale(&self, what: &str, word: &str, pt: f64) -> f64 {
        let s = self.scales(word, pt);
        let min = s.iter().copied().fold(f64::MAX, f64::min);
        assert!(
            min >= 0.70,
            "{what}: a page printed at {:.0} %: {s:?}",
            min * 100.0
        );
        min
    }

    pub fn all_text(&self) -> String {
        self.text.join("\n")
    }

    /// Pages (1-based) whose text contains `s`.
    pub fn pages_with(&self, s: &str) -> Vec<usize> {
        (0..self.text.len())
            .filter(|&i| self.text[i].contains(s))
            .map(|i| i + 1)
            .collect()
    }
}

/// The print setup of every sheet of a workbook: A4, landscape, one page wide, no fixed scale
/// below 70.
pub fn assert_page_setup(xlsx: &Path) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(xlsx).unwrap()).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .filter(|n| n.starts_with("xl/worksheets/sheet"))
        .collect();
    assert!(!names.is_empty());
    for n in names {
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(&n).unwrap(), &mut xml).unwrap();
        let setup = &xml[xml
            .find("<pageSetup")
            .unwrap_or_else(|| panic!("{n}: no pageSetup"))..];
        let setup = &setup[..setup.find("/>").unwrap()];
        assert!(setup.contains("paperSize=\"9\""), "{n}: {setup}");
        assert!(setup.contains("orientation=\"landscape\""), "{n}: {setup}");
        assert!(setup.contains("fitToHeight=\"0\""), "{n}: {setup}");
        assert!(!setup.contains("fitToWidth=") || setup.contains("fitToWidth=\"1\""));
        assert!(
            xml.contains("<pageSetUpPr fitToPage=\"1\"/>"),
            "{n}: fit to page"
        );
        if let Some(at) = setup.find("scale=\"") {
            let v: u32 = setup[at + 7..].split('"').next().unwrap().parse().unwrap();
            assert!(v >= 70, "{n}: scale {v}");
        }
        assert!(
            xml.contains("&amp;P") || xml.contains("&P"),
            "{n}: page numbers"
        );
        // Each row once, in order: Excel offers to repair a sheet that repeats a row.
        let rows: Vec<u32> = xml
            .split("<row r=\"")
            .skip(1)
            .map(|r| r[..r.find('"').unwrap()].parse().unwrap())
            .collect();
        assert!(
            rows.windows(2).all(|w| w[0] < w[1]),
            "{n}: rows out of order or repeated"
        );
    }
}
