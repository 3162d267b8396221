//! `chieftech sample`: realistic synthetic input workbooks, for trying chieftech out and for
//! benchmarks.
//!
//! [`generate`] makes the data, deterministic for a seed: about 20 units with e-mail
//! addresses, technicians with valid ID numbers (GB 11643), Chinese names and Luhn-valid bank
//! cards, cohorts approved 2021–2024 (about a quarter of the people each year, a few
//! re-selected after their first term), and status changes for report years 2023, 2024 and
//! 2025 in realistic proportions: every change type, late reports (effective the year
//! before), a fraud revocation of someone already paid, a suspension and its restoration, and
//! another talent allowance with an end date. Every change row passes the record-time checks
//! of docs/rules.md in the order an import applies them (files in year order, rows by effective
//! date): the generator runs [`crate::rules::check_change`] on each row and keeps only rows it
//! applies, and avoids rows whose validity would depend on the configurable effect of 退休 or
//! 离岗.
//!
//! [`write_sample`] writes the input workbooks of docs/contract.md: `roster.xlsx` (sheets 名册 and
//! 单位) and `changes-<year>.xlsx` (sheet 变动), with a title row above each header, ID and
//! account numbers as text cells, and dates as date cells (some change rows give them as text,
//! as clerks do).

use crate::rules::id_number::make_id;
use crate::rules::{
    check_change, Appointment, Change, ChangeKind, ProposedChange, Reporter, RulesConfig, Verdict,
};
use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{DocProperties, Format, FormatAlign, FormatBorder, Workbook, XlsxError};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The files [`write_sample`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleFiles {
    pub roster: PathBuf,
    /// (report year, file), in the order to import them.
    pub changes: Vec<(i32, PathBuf)>,
}

/// Why sample data could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("a sample needs at least {min} people (asked for {asked})")]
    TooFew { asked: usize, min: usize },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the workbook {file}: {source}")]
    Xlsx { file: String, source: XlsxError },
}

/// The fewest people a sample can have (every change type needs someone).
pub const MIN_PEOPLE: usize = 20;

/// The report years of the changes files.
pub const REPORT_YEARS: [i32; 3] = [2023, 2024, 2025];

/// A unit (sheet 单位).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleUnit {
    pub name: String,
    pub contact: String,
    pub email: String,
}

/// A roster row (sheet 名册): one appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRosterRow {
    pub name: String,
    pub id_number: String,
    pub unit: String,
    pub occupation: String,
    pub level: String,
    pub approval_date: NaiveDate,
    pub approval_no: String,
    pub bank_account: String,
    pub bank_name: String,
    pub phone: String,
    pub email: Option<String>,
}

/// How a date is written in a changes file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// An Excel date cell.
    Cell,
    /// Text `2023-05-20`.
    Iso,
    /// Text `2023年5月20日`.
    Chinese,
}

/// A change row (sheet 变动).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleChange {
    pub name: String,
    pub id_number: String,
    pub kind: ChangeKind,
    pub effective: NaiveDate,
    pub end: Option<NaiveDate>,
    pub new_unit: Option<String>,
    pub decision_no: Option<String>,
    pub title_no: Option<String>,
    pub note: String,
    pub date_style: DateStyle,
}

/// A whole sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleData {
    pub units: Vec<SampleUnit>,
    pub roster: Vec<SampleRosterRow>,
    /// (report year, rows in file order).
    pub changes: Vec<(i32, Vec<SampleChange>)>,
}

/// SplitMix64: small, fast and the same on every platform and version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn date_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let days = (to - from).num_days().max(0) as usize;
        from + chrono::Days::new(self.below(days + 1) as u64)
    }
}

const UNITS: [(&str, &str, &str); 20] = [
    ("山东鲁中机械制造有限公司", "luzhong-jixie", "王建国"),
    ("淄博华通化工股份有限公司", "huatong-chem", "刘秀英"),
    ("张店区第一建筑工程有限公司", "zd-jianzhu", "陈志强"),
    ("淄博齐鲁陶瓷有限公司", "qilu-taoci", "李红梅"),
    ("淄博金泰电力设备有限公司", "jintai-power", "张立新"),
    ("淄博仁和医疗器械有限公司", "renhe-med", "赵丽娟"),
    ("淄博恒达汽车配件有限公司", "hengda-auto", "孙海峰"),
    ("张店区热力有限公司", "zd-reli", "周玉兰"),
    ("淄博东岳精密铸造有限公司", "dongyue-zhuzao", "吴国庆"),
    ("淄博明远数控设备有限公司", "mingyuan-cnc", "郑春燕"),
    ("淄博瑞丰纺织有限公司", "ruifeng-textile", "冯晓东"),
    ("淄博三力电子科技有限公司", "sanli-elec", "何静"),
    ("张店区公共交通有限公司", "zd-bus", "高永刚"),
    ("淄博同心食品有限公司", "tongxin-food", "林美华"),
    ("淄博博远玻璃制品有限公司", "boyuan-glass", "罗文斌"),
    ("淄博宏信钢结构有限公司", "hongxin-steel", "梁建华"),
    ("淄博天成制药有限公司", "tiancheng-pharma", "宋丽萍"),
    ("淄博安泰燃气有限公司", "antai-gas", "唐明"),
    ("淄博星海印刷有限公司", "xinghai-print", "许晓燕"),
    ("张店区技师学院实训中心", "zd-jishi", "韩永"),
];

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤";
const GIVEN: &str = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力永健国海峰志斌鑫波宁凯鹏亮俊飞燕兰梅琳晶晓东春庆宇立新成林";

const OCCUPATIONS: [&str; 16] = [
    "车工",
    "钳工",
    "焊工",
    "电工",
    "数控车工",
    "化工总控工",
    "汽车维修工",
    "电梯安装维修工",
    "陶瓷装饰工",
    "锅炉运行值班员",
    "仪器仪表维修工",
    "药物制剂工",
    "中式烹调师",
    "印刷操作员",
    "铸造工",
    "工具钳工",
];

const BANKS: [(&str, &str); 6] = [
    ("622202", "中国工商银行淄博张店支行"),
    ("621700", "中国建设银行淄博张店支行"),
    ("622848", "中国农业银行淄博张店支行"),
    ("621661", "中国银行淄博张店支行"),
    ("622262", "交通银行淄博分行营业部"),
    ("623058", "齐商银行张店支行"),
];

/// Cohorts: approval date and document.
const COHORTS: [(i32, u32, u32, &str); 4] = [
    (2021, 10, 15, "张人社字〔2021〕52号"),
    (2022, 6, 20, "张人社字〔2022〕31号"),
    (2023, 11, 10, "张人社字〔2023〕47号"),
    (2024, 9, 25, "张人社字〔2024〕40号"),
];

/// Re-selection of 2021's technicians after their first term (terms must not overlap).
const RESELECTION: (i32, u32, u32, &str) = (2024, 10, 28, "张人社字〔2024〕46号");

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn luhn_digit(body: &str) -> char {
    let mut sum = 0u32;
    for (i, c) in body.chars().rev().enumerate() {
        let mut d = c.to_digit(10).expect("digit");
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    char::from_digit((10 - sum % 10) % 10, 10).expect("digit")
}

/// A person in the simulation: their appointments and recorded changes.
struct Person {
    name: String,
    id_number: String,
    unit: String,
    appointments: Vec<Appointment>,
    recorded: Vec<Change>,
    /// Appointments with a stopping change recorded (no more changes but fraud/restoration).
    closed: HashSet<i64>,
    /// Appointments suspended by 调往区外/不再从事技能岗位: (id, since) — restorable.
    restorable: Vec<(i64, NaiveDate)>,
}

/// Makes a sample of `people` technicians, deterministic for `seed`.
pub fn generate(people: usize, seed: u64) -> Result<SampleData, SampleError> {
    generate_scaled(people, seed, 1.0)
}

/// [`generate`] with every annual change rate multiplied by `change_scale` (1.0: the usual
/// proportions, about a quarter as many change rows as people; 2.5: about 0.6 per person, the
/// shape of the province-scale benchmark). Still one planned change per person and report year.
pub fn generate_scaled(
    people: usize,
    seed: u64,
    change_scale: f64,
) -> Result<SampleData, SampleError> {
    if people < MIN_PEOPLE {
        return Err(SampleError::TooFew {
            asked: people,
            min: MIN_PEOPLE,
        });
    }
    let units = sample_units(people);
    let mut maker = PeopleMaker {
        rng: Rng(seed ^ 0x5EED_C41E_F7EC),
        units: &units,
        people,
        surnames: SURNAMES.chars().collect(),
        given: GIVEN.chars().collect(),
        ids: HashSet::new(),
        next_appointment: 1,
        roster: Vec::new(),
    };
    let persons: Vec<Person> = (0..people).map(|i| maker.person(i)).collect();
    let PeopleMaker { rng, roster, .. } = maker;
    let mut sim = Simulation {
        rng,
        persons,
        units: units.iter().map(|u| u.name.clone()).collect(),
        next_change: 1,
        cfg: RulesConfig::default(),
        change_scale,
    };
    let mut changes = Vec::new();
    for year in REPORT_YEARS {
        changes.push((year, sim.year_file(year)));
    }
    Ok(SampleData {
        units,
        roster,
        changes,
    })
}

/// The sample's units: about one per three people, between 4 and all of [`UNITS`].
fn sample_units(people: usize) -> Vec<SampleUnit> {
    let n_units = (people / 3).clamp(4, UNITS.len());
    UNITS[..n_units]
        .iter()
        .map(|(name, slug, contact)| SampleUnit {
            name: name.to_string(),
            contact: contact.to_string(),
            email: format!("hr@{slug}.example.com"),
        })
        .collect()
}

/// Area codes of ID numbers (mostly Zhangdian's).
const AREAS: [&str; 9] = [
    "370303", "370303", "370303", "370303", "370302", "370304", "370305", "370306", "370321",
];

/// Mobile number prefixes.
const PHONE_PREFIXES: [&str; 12] = [
    "135", "138", "139", "150", "152", "158", "186", "187", "133", "153", "180", "189",
];

/// Makes the sample's people one by one, writing their roster rows.
struct PeopleMaker<'a> {
    rng: Rng,
    units: &'a [SampleUnit],
    people: usize,
    surnames: Vec<char>,
    given: Vec<char>,
    /// ID numbers given out so far.
    ids: HashSet<String>,
    next_appointment: i64,
    roster: Vec<SampleRosterRow>,
}

impl PeopleMaker<'_> {
    /// Person `i`: name, ID number, unit, bank card, phone, cohort, and a roster row per
    /// appointment.
    fn person(&mut self, i: usize) -> Person {
        let name = self.name();
        let id = self.id_number();
        let unit = self.units[self.rng.below(self.units.len())].name.clone();
        let (account, bank_name) = self.bank_card();
        let phone = format!(
            "{}{:08}",
            self.rng.pick(&PHONE_PREFIXES),
            self.rng.next() % 100_000_000
        );
        let email = self
            .rng
            .chance(0.4)
            .then(|| format!("zd{:05}@example.com", i + 1));
        let cohort = COHORTS[(i * 4 / self.people).min(3)];
        let occupation = self.rng.pick(&OCCUPATIONS).to_string();
        let level = if self.rng.chance(0.7) {
            "高级技师"
        } else {
            "技师"
        }
        .to_string();
        let mut dates = vec![(ymd(cohort.0, cohort.1, cohort.2), cohort.3)];
        // A few of 2021's technicians are selected again after their first term.
        if cohort.0 == 2021 && (i % 29 == 3) {
            dates.push((
                ymd(RESELECTION.0, RESELECTION.1, RESELECTION.2),
                RESELECTION.3,
            ));
        }
        let row = SampleRosterRow {
            name,
            id_number: id,
            unit,
            occupation,
            level,
            approval_date: dates[0].0,
            approval_no: String::new(),
            bank_account: account,
            bank_name: bank_name.to_string(),
            phone,
            email,
        };
        let appointments = self.appoint(&row, &dates);
        Person {
            name: row.name,
            id_number: row.id_number,
            unit: row.unit,
            appointments,
            recorded: Vec::new(),
            closed: HashSet::new(),
            restorable: Vec::new(),
        }
    }

    /// A Chinese name: a surname and one or two given characters.
    fn name(&mut self) -> String {
        let mut name = String::new();
        name.push(*self.rng.pick(&self.surnames));
        name.push(*self.rng.pick(&self.given));
        if self.rng.chance(0.6) {
            name.push(*self.rng.pick(&self.given));
        }
        name
    }

    /// A valid ID number no one else in the sample has.
    fn id_number(&mut self) -> String {
        loop {
            let birth = self.rng.date_between(ymd(1965, 1, 1), ymd(1992, 12, 31));
            let area: &str = AREAS[self.rng.below(AREAS.len())];
            let id = make_id(area, birth, self.rng.below(1000) as u32);
            if self.ids.insert(id.as_str().to_string()) {
                break id.as_str().to_string();
            }
        }
    }

    /// A Luhn-valid bank card number and its bank.
    fn bank_card(&mut self) -> (String, &'static str) {
        let (bin, bank_name) = *self.rng.pick(&BANKS);
        let mut body = bin.to_string();
        for _ in 0..12 {
            body.push(char::from(b'0' + self.rng.below(10) as u8));
        }
        (format!("{body}{}", luhn_digit(&body)), bank_name)
    }

    /// A roster row per (approval date, number), like `row` otherwise; the appointments.
    fn appoint(&mut self, row: &SampleRosterRow, dates: &[(NaiveDate, &str)]) -> Vec<Appointment> {
        let mut appointments = Vec::new();
        for (d, no) in dates {
            self.roster.push(SampleRosterRow {
                approval_date: *d,
                approval_no: no.to_string(),
                ..row.clone()
            });
            appointments.push(Appointment {
                id: self.next_appointment,
                approval_date: *d,
                approval_no: no.to_string(),
            });
            self.next_appointment += 1;
        }
        appointments
    }
}

struct Simulation {
    rng: Rng,
    persons: Vec<Person>,
    units: Vec<String>,
    next_change: i64,
    cfg: RulesConfig,
    change_scale: f64,
}

/// A planned row: person index and the change.
type Planned = (usize, SampleChange);

/// A year's changes file being planned: the rows so far and the people they take.
struct Plan {
    year: i32,
    /// The last day a report of the year covers.
    reported_by: NaiveDate,
    rows: Vec<Planned>,
    /// People with a planned row (one planned change per person and report year).
    taken: HashSet<usize>,
}

/// Annual rates of each change among technicians in their term.
const ANNUAL_RATES: [(ChangeKind, f64); 11] = [
    (ChangeKind::UnitChange, 0.03),
    (ChangeKind::Retired, 0.025),
    (ChangeKind::TransferredOut, 0.015),
    (ChangeKind::PromotedCity, 0.015),
    (ChangeKind::LeftSkilledWork, 0.01),
    (ChangeKind::LeftPost, 0.01),
    (ChangeKind::OtherAllowance, 0.01),
    (ChangeKind::PromotedProvince, 0.005),
    (ChangeKind::Deceased, 0.003),
    (ChangeKind::RevokedMisconduct, 0.003),
    (ChangeKind::RevokedFraud, 0.002),
];

/// The kinds forced into a year's file: every kind at least once over the three years, in
/// the year listed here.
fn forced_kinds(year: i32) -> &'static [ChangeKind] {
    match year {
        2023 => &[
            ChangeKind::UnitChange,
            ChangeKind::Retired,
            ChangeKind::TransferredOut,
            ChangeKind::PromotedCity,
            ChangeKind::Deceased,
        ],
        2024 => &[
            ChangeKind::LeftPost,
            ChangeKind::PromotedProvince,
            ChangeKind::RevokedMisconduct,
        ],
        _ => &[ChangeKind::OtherAllowance, ChangeKind::UnitChange],
    }
}

impl Simulation {
    /// The appointment of a person whose term holds `x` and that can still take a change.
    fn open_appointment(&self, p: usize, x: NaiveDate) -> Option<&Appointment> {
        let person = &self.persons[p];
        person
            .appointments
            .iter()
            .find(|a| a.term_holds(x) && !person.closed.contains(&a.id))
    }

    fn row(&mut self, p: usize, kind: ChangeKind, x: NaiveDate, report_year: i32) -> SampleChange {
        let style = match self.rng.below(10) {
            0 => DateStyle::Iso,
            1 => DateStyle::Chinese,
            _ => DateStyle::Cell,
        };
        let n = 3 + self.rng.below(60);
        let (decision_no, note) = self.decision_and_note(kind, x, report_year, n);
        let person = &self.persons[p];
        let new_unit = (kind == ChangeKind::UnitChange).then(|| loop {
            let u = self.rng.pick(&self.units).clone();
            if u != person.unit {
                break u;
            }
        });
        let note = match &new_unit {
            Some(u) => format!("调入{u}"),
            None => note,
        };
        SampleChange {
            name: person.name.clone(),
            id_number: person.id_number.clone(),
            kind,
            effective: x,
            end: None,
            new_unit,
            decision_no,
            title_no: None,
            note,
            date_style: style,
        }
    }

    /// A change's decision number (`n` its running number) and the clerk's note.
    fn decision_and_note(
        &mut self,
        kind: ChangeKind,
        x: NaiveDate,
        report_year: i32,
        n: usize,
    ) -> (Option<String>, String) {
        match kind {
            ChangeKind::TransferredOut => (
                None,
                format!(
                    "调往{}工作",
                    self.rng.pick(&[
                        "济南市历下区",
                        "青岛市黄岛区",
                        "潍坊市奎文区",
                        "淄博市临淄区",
                        "江苏省苏州市"
                    ])
                ),
            ),
            ChangeKind::LeftSkilledWork => (None, "转岗至管理岗位".into()),
            ChangeKind::Retired => (None, "到龄退休".into()),
            ChangeKind::LeftPost => (None, "因病离岗".into()),
            ChangeKind::Restored => (
                Some(format!("张人社字〔{report_year}〕{n}号")),
                "重新从事技能岗位，经区人社局审核恢复待遇".into(),
            ),
            ChangeKind::Deceased => (None, "因病去世".into()),
            ChangeKind::RevokedMisconduct => (
                Some(format!("张人社字〔{}〕{n}号", x.year())),
                "严重违反单位规章制度，撤销称号".into(),
            ),
            ChangeKind::RevokedFraud => (
                Some(format!("张人社字〔{}〕{n}号", x.year())),
                "经核查申报材料弄虚作假，撤销称号并追回已发津贴".into(),
            ),
            ChangeKind::PromotedCity => (
                Some(format!("淄人社字〔{}〕{n}号", x.year())),
                "入选淄博市首席技师".into(),
            ),
            ChangeKind::PromotedProvince => (
                Some(format!("鲁人社字〔{}〕{n}号", x.year())),
                "入选齐鲁首席技师".into(),
            ),
            ChangeKind::OtherAllowance => (None, "享受淄博市高层次人才津贴".into()),
            ChangeKind::UnitChange => (None, String::new()),
        }
    }

    /// Picks a random person with an open appointment at `x`, trying a few times.
    fn someone_open_at(&mut self, x: NaiveDate, taken: &HashSet<usize>) -> Option<usize> {
        for _ in 0..40 {
            let p = self.rng.below(self.persons.len());
            if !taken.contains(&p) && self.open_appointment(p, x).is_some() {
                return Some(p);
            }
        }
        None
    }

    /// The rows of the changes file of `year`, in file order; every row applies.
    fn year_file(&mut self, year: i32) -> Vec<SampleChange> {
        let mut plan = Plan {
            year,
            reported_by: ymd(year, 11, 15),
            rows: Vec::new(),
            taken: HashSet::new(),
        };
        self.plan_by_rates(&mut plan);
        self.plan_restorations(&mut plan);
        self.plan_examples(&mut plan);
        let mut planned = plan.rows;
        // File order: by unit, as a bureau collects the units' reports.
        planned.sort_by(|a, b| self.persons[a.0].unit.cmp(&self.persons[b.0].unit));
        self.apply_in_import_order(planned)
    }

    /// Changes at the annual rates among technicians in their term (scaled), every kind at
    /// least once over the three years.
    fn plan_by_rates(&mut self, plan: &mut Plan) {
        let year = plan.year;
        let active = self
            .persons
            .iter()
            .filter(|p| {
                p.appointments
                    .iter()
                    .any(|a| a.term_holds(ymd(year, 6, 30)))
            })
            .count();
        let forced = forced_kinds(year);
        for (kind, rate) in ANNUAL_RATES {
            let expected = rate * self.change_scale * active as f64;
            let mut count =
                expected.floor() as usize + usize::from(self.rng.chance(expected.fract()));
            if forced.contains(&kind) {
                count = count.max(1);
            }
            for _ in 0..count {
                self.plan_one(plan, kind);
            }
        }
    }

    /// One change of `kind` for someone open on a random day of the year (about one report
    /// in five late: effective in the year before); nothing when no one is found.
    fn plan_one(&mut self, plan: &mut Plan, kind: ChangeKind) {
        let year = plan.year;
        let late = year > 2023 && self.rng.chance(0.2) && kind != ChangeKind::OtherAllowance;
        let x = if late {
            self.rng
                .date_between(ymd(year - 1, 1, 1), ymd(year - 1, 12, 31))
        } else {
            self.rng.date_between(ymd(year, 1, 1), plan.reported_by)
        };
        let Some(p) = self.someone_open_at(x, &plan.taken) else {
            return;
        };
        plan.taken.insert(p);
        let mut row = self.row(p, kind, x, year);
        if kind == ChangeKind::OtherAllowance {
            let x = ymd(x.year(), x.month(), 1);
            row.effective = x;
            row.end = Some(
                crate::rules::month::add_months(x, 3 + self.rng.below(9) as i32)
                    .pred_opt()
                    .expect("date"),
            );
        }
        plan.rows.push((p, row));
    }

    /// Restorations of earlier suspensions (调往区外, 不再从事技能岗位): about a third.
    fn plan_restorations(&mut self, plan: &mut Plan) {
        let restorable: Vec<(usize, i64, NaiveDate)> = self
            .persons
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.restorable.iter().map(move |(a, d)| (i, *a, *d)))
            .collect();
        for (p, _, since) in restorable {
            if plan.taken.contains(&p) || !self.rng.chance(0.35) {
                continue;
            }
            let from = (since + chrono::Days::new(60)).max(ymd(plan.year, 1, 1));
            if from > plan.reported_by {
                continue;
            }
            let x = self.rng.date_between(from, plan.reported_by);
            plan.taken.insert(p);
            let row = self.row(p, ChangeKind::Restored, x, plan.year);
            plan.rows.push((p, row));
        }
    }

    /// The cases docs/rules.md's examples are about, so every sample shows them.
    fn plan_examples(&mut self, plan: &mut Plan) {
        let (year, taken) = (plan.year, &mut plan.taken);
        let planned = &mut plan.rows;
        match year {
            2024 => {
                // Fraud found in 2024 of a 2021 technician already paid (docs/rules.md D).
                if let Some(p) = self.first_free(2021, taken, ymd(2024, 3, 8)) {
                    taken.insert(p);
                    let mut row = self.row(p, ChangeKind::RevokedFraud, ymd(2024, 3, 8), year);
                    row.title_no = Some(self.persons[p].appointments[0].approval_no.clone());
                    planned.push((p, row));
                }
                // A retirement in 2023 reported only in 2024 (docs/rules.md C).
                if let Some(p) = self.first_free(2021, taken, ymd(2023, 9, 16)) {
                    taken.insert(p);
                    planned.push((p, self.row(p, ChangeKind::Retired, ymd(2023, 9, 16), year)));
                }
                // A suspension and its restoration (docs/rules.md F).
                if let Some(p) = self.first_free(2022, taken, ymd(2024, 2, 10)) {
                    taken.insert(p);
                    planned.push((
                        p,
                        self.row(p, ChangeKind::LeftSkilledWork, ymd(2024, 2, 10), year),
                    ));
                    planned.push((p, self.row(p, ChangeKind::Restored, ymd(2024, 7, 1), year)));
                }
            }
            2025 => {
                // Another talent allowance for half a year (docs/rules.md E).
                if let Some(p) = self.first_free(2023, taken, ymd(2025, 4, 1)) {
                    taken.insert(p);
                    let mut row = self.row(p, ChangeKind::OtherAllowance, ymd(2025, 4, 1), year);
                    row.end = Some(ymd(2025, 9, 30));
                    planned.push((p, row));
                }
            }
            _ => {}
        }
    }

    /// The first person of a cohort without recorded changes and open at `x`.
    fn first_free(&self, cohort: i32, taken: &HashSet<usize>, x: NaiveDate) -> Option<usize> {
        (0..self.persons.len()).find(|&p| {
            let person = &self.persons[p];
            !taken.contains(&p)
                && person.recorded.is_empty()
                && person.appointments.len() == 1
                && person.appointments[0].cohort_year() == cohort
                && self.open_appointment(p, x).is_some()
        })
    }

    /// Checks the rows as an import does (by effective date, then file order) and keeps those
    /// that apply, recording them.
    fn apply_in_import_order(&mut self, planned: Vec<Planned>) -> Vec<SampleChange> {
        let mut order: Vec<usize> = (0..planned.len()).collect();
        order.sort_by_key(|&i| (planned[i].1.effective, i));
        let mut keep = vec![false; planned.len()];
        for i in order {
            let (p, row) = &planned[i];
            let Some(appointment_ids) = self.applies(*p, row) else {
                continue;
            };
            keep[i] = true;
            self.record(*p, row, appointment_ids);
        }
        planned
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|((_, row), _)| row)
            .collect()
    }

    /// The appointments a row applies to, when the checks apply it and its validity does not
    /// depend on configuration (rows after a stopping change).
    fn applies(&self, p: usize, row: &SampleChange) -> Option<Vec<i64>> {
        let person = &self.persons[p];
        let proposed = ProposedChange {
            kind: row.kind,
            effective: row.effective,
            end: row.end,
            title_no: row.title_no.clone(),
        };
        let verdict = check_change(
            &person.appointments,
            &person.recorded,
            &proposed,
            Reporter::Bureau,
            &self.cfg,
        );
        let Verdict::Apply {
            appointment_ids, ..
        } = verdict
        else {
            return None;
        };
        // Rows after a stopping change would depend on configuration: leave them out.
        let allowed_when_closed =
            matches!(row.kind, ChangeKind::RevokedFraud | ChangeKind::Restored);
        if appointment_ids
            .iter()
            .any(|a| person.closed.contains(a) && !allowed_when_closed)
        {
            return None;
        }
        if row.kind == ChangeKind::Restored
            && !appointment_ids.iter().all(|a| {
                person
                    .restorable
                    .iter()
                    .any(|(id, since)| id == a && *since < row.effective)
            })
        {
            return None;
        }
        Some(appointment_ids)
    }

    /// Records an applied row: the change, and which appointments it closes or reopens.
    fn record(&mut self, p: usize, row: &SampleChange, appointment_ids: Vec<i64>) {
        let person = &mut self.persons[p];
        person.recorded.push(Change {
            id: self.next_change,
            kind: row.kind,
            effective: row.effective,
            end: row.end,
            appointment_ids: appointment_ids.clone(),
            by_unit: false,
        });
        self.next_change += 1;
        for a in appointment_ids {
            match row.kind {
                ChangeKind::TransferredOut | ChangeKind::LeftSkilledWork => {
                    person.closed.insert(a);
                    person.restorable.push((a, row.effective));
                }
                ChangeKind::Restored => {
                    person.closed.remove(&a);
                    person.restorable.retain(|(id, _)| *id != a);
                }
                ChangeKind::UnitChange | ChangeKind::OtherAllowance => {}
                _ => {
                    person.closed.insert(a);
                    person.restorable.retain(|(id, _)| *id != a);
                }
            }
        }
    }
}

/// Writes a sample of `people` technicians into `dir` (created if missing).
pub fn write_sample(people: usize, dir: &Path, seed: u64) -> Result<SampleFiles, SampleError> {
    write_sample_scaled(people, dir, seed, 1.0)
}

/// [`write_sample`] with the change rates of [`generate_scaled`]. The sheets are written in
/// rust_xlsxwriter's low-memory mode (rows flushed as written, strings shared), so a sample of
/// a million people takes the memory of its data, not of a million rows of cells.
pub fn write_sample_scaled(
    people: usize,
    dir: &Path,
    seed: u64,
    change_scale: f64,
) -> Result<SampleFiles, SampleError> {
    let data = generate_scaled(people, seed, change_scale)?;
    std::fs::create_dir_all(dir).map_err(|source| SampleError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let roster = dir.join("roster.xlsx");
    write_roster(&data, &roster)?;
    let mut changes = Vec::new();
    for (year, rows) in &data.changes {
        let path = dir.join(format!("changes-{year}.xlsx"));
        write_changes(*year, rows, &path)?;
        changes.push((*year, path));
    }
    // The workbooks hold full ID and account numbers (made up, but shaped like real ones).
    for path in std::iter::once(&roster).chain(changes.iter().map(|(_, p)| p)) {
        make_private(path).map_err(|source| SampleError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(SampleFiles { roster, changes })
}

/// Makes a written file readable by its owner only (mode 0600).
pub fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Roster headers (sheet 名册), as in docs/contract.md.
pub const ROSTER_HEADERS: [&str; 11] = [
    "姓名",
    "身份证号码",
    "工作单位",
    "职业（工种）",
    "职业资格等级",
    "批准日期",
    "批准文号",
    "银行账号",
    "开户行",
    "联系电话",
    "电子邮箱",
];

/// Unit headers (sheet 单位).
pub const UNIT_HEADERS: [&str; 3] = ["单位名称", "联系人", "电子邮箱"];

/// Change headers (sheet 变动).
pub const CHANGE_HEADERS: [&str; 9] = [
    "姓名",
    "身份证号码",
    "变动类型",
    "生效日期",
    "结束日期",
    "新单位",
    "批准文号",
    "称号批准文号",
    "说明",
];

struct Styles {
    title: Format,
    header: Format,
    text: Format,
    date: Format,
}

fn styles() -> Styles {
    let cell = Format::new().set_border(FormatBorder::Thin);
    Styles {
        title: Format::new().set_bold().set_font_size(14),
        header: cell
            .clone()
            .set_bold()
            .set_align(FormatAlign::Center)
            .set_background_color(0xDDEBF7),
        text: cell.clone().set_num_format("@"),
        date: cell.set_num_format("yyyy-mm-dd"),
    }
}

fn xlsx_err(path: &Path) -> impl Fn(XlsxError) -> SampleError + '_ {
    move |source| SampleError::Xlsx {
        file: path.display().to_string(),
        source,
    }
}

fn write_roster(data: &SampleData, path: &Path) -> Result<(), SampleError> {
    let e = xlsx_err(path);
    let s = styles();
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title("张店区首席技师名册（样例数据）")
            .set_creation_datetime(&ymd(2024, 12, 31)),
    );
    let ws = wb.add_worksheet_with_low_memory().map_err(&e)?;
    ws.set_name("名册").map_err(&e)?;
    ws.write_string_with_format(
        0,
        0,
        "张店区首席技师名册（样例数据，截至2024年12月31日）",
        &s.title,
    )
    .map_err(&e)?;
    for (i, (h, w)) in ROSTER_HEADERS
        .iter()
        .zip([8, 21, 28, 16, 12, 12, 22, 23, 26, 14, 24])
        .enumerate()
    {
        ws.write_string_with_format(1, i as u16, *h, &s.header)
            .map_err(&e)?;
        ws.set_column_width(i as u16, w).map_err(&e)?;
    }
    ws.set_freeze_panes(2, 0).map_err(&e)?;
    for (i, r) in data.roster.iter().enumerate() {
        let row = i as u32 + 2;
        let texts = [
            (0, &r.name),
            (1, &r.id_number),
            (2, &r.unit),
            (3, &r.occupation),
            (4, &r.level),
            (6, &r.approval_no),
            (7, &r.bank_account),
            (8, &r.bank_name),
            (9, &r.phone),
        ];
        for (c, t) in texts {
            ws.write_string_with_format(row, c, t, &s.text)
                .map_err(&e)?;
        }
        ws.write_date_with_format(row, 5, r.approval_date, &s.date)
            .map_err(&e)?;
        match &r.email {
            Some(m) => ws.write_string_with_format(row, 10, m, &s.text),
            None => ws.write_blank(row, 10, &s.text),
        }
        .map_err(&e)?;
    }
    let ws = wb.add_worksheet_with_low_memory().map_err(&e)?;
    ws.set_name("单位").map_err(&e)?;
    for (i, (h, w)) in UNIT_HEADERS.iter().zip([30, 10, 32]).enumerate() {
        ws.write_string_with_format(0, i as u16, *h, &s.header)
            .map_err(&e)?;
        ws.set_column_width(i as u16, w).map_err(&e)?;
    }
    for (i, u) in data.units.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, t) in [&u.name, &u.contact, &u.email].into_iter().enumerate() {
            ws.write_string_with_format(row, c as u16, t, &s.text)
                .map_err(&e)?;
        }
    }
    wb.save(path).map_err(&e)
}

fn write_changes(year: i32, rows: &[SampleChange], path: &Path) -> Result<(), SampleError> {
    let e = xlsx_err(path);
    let s = styles();
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title(format!("{year}年度首席技师变动情况报告表（样例数据）"))
            .set_creation_datetime(&ymd(year, 11, 20)),
    );
    let ws = wb.add_worksheet_with_low_memory().map_err(&e)?;
    ws.set_name("变动").map_err(&e)?;
    ws.write_string_with_format(0, 0, format!("{year}年度首席技师变动情况报告表"), &s.title)
        .map_err(&e)?;
    for (i, (h, w)) in CHANGE_HEADERS
        .iter()
        .zip([8, 21, 22, 13, 13, 28, 22, 22, 40])
        .enumerate()
    {
        ws.write_string_with_format(1, i as u16, *h, &s.header)
            .map_err(&e)?;
        ws.set_column_width(i as u16, w).map_err(&e)?;
    }
    ws.set_freeze_panes(2, 0).map_err(&e)?;
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 2;
        ws.write_string_with_format(row, 0, &r.name, &s.text)
            .map_err(&e)?;
        ws.write_string_with_format(row, 1, &r.id_number, &s.text)
            .map_err(&e)?;
        ws.write_string_with_format(row, 2, r.kind.label(), &s.text)
            .map_err(&e)?;
        for (c, d) in [(3u16, Some(r.effective)), (4, r.end)] {
            match d {
                None => ws.write_blank(row, c, &s.text),
                Some(d) => match r.date_style {
                    DateStyle::Cell => ws.write_date_with_format(row, c, d, &s.date),
                    DateStyle::Iso => ws.write_string_with_format(row, c, d.to_string(), &s.text),
                    DateStyle::Chinese => ws.write_string_with_format(
                        row,
                        c,
                        crate::rules::month::cn_date(d),
                        &s.text,
                    ),
                },
            }
            .map_err(&e)?;
        }
        for (c, t) in [
            (5u16, &r.new_unit),
            (6, &r.decision_no),
            (7, &r.title_no),
            (8, &Some(r.note.clone())),
        ] {
            match t {
                Some(t) if !t.is_empty() => ws.write_string_with_format(row, c, t, &s.text),
                _ => ws.write_blank(row, c, &s.text),
            }
            .map_err(&e)?;
        }
    }
    wb.save(path).map_err(&e)
}

/// One sample nomination: name, birth date, 工作单位 (an index into [`UNITS`]), occupation,
/// level, with an account (else left for later, as a nominating body may).
const NOMINEES: [(&str, &str, usize, &str, &str, bool); 6] = [
    ("周明亮", "1986-03-12", 0, "数控车工", "高级技师", true),
    ("吴秀兰", "1969-08-20", 1, "化工总控工", "技师", true),
    ("郑海涛", "1979-11-05", 2, "建筑电工", "高级技师", true),
    ("冯雪梅", "1990-01-28", 3, "陶瓷成型工", "技师", true),
    ("何永刚", "1983-06-30", 0, "焊工", "高级工", false),
    (
        "曹丽华",
        "1975-04-16",
        1,
        "化学检验员",
        "技师（国家职业资格二级）",
        true,
    ),
];

/// A sample nominations workbook (sheet 推荐汇总) for the selection round of 2026: six
/// candidates from two nominating bodies, their units those of the sample roster, noticed
/// 2026-04-20至2026-04-24 and received 2026-05-08. One is over 55, one below 技师 and without
/// an account, so `selection import` shows its findings. Written 0600 (full ID numbers).
pub fn write_sample_nominations(dir: &Path) -> Result<PathBuf, SampleError> {
    use crate::excel::nominations::{NOMINATION_COLUMNS, NOMINATION_TEMPLATE_COLUMNS};
    let path = dir.join("nominations-2026.xlsx");
    let io = |source: std::io::Error| SampleError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    let xlsx = |e: rust_xlsxwriter::XlsxError| io(std::io::Error::other(e.to_string()));
    ws.set_name(crate::excel::nominations::NOMINATIONS_SHEET)
        .map_err(xlsx)?;
    for (c, col) in (0u16..).zip(&NOMINATION_COLUMNS[..NOMINATION_TEMPLATE_COLUMNS]) {
        ws.write_string(0, c, col.name).map_err(xlsx)?;
        ws.set_column_width(c, 16).map_err(xlsx)?;
    }
    for (r, n) in (1u32..).zip(NOMINEES.iter()) {
        for (c, v) in (0u16..).zip(nomination_cells(r, n)) {
            ws.write_string(r, c, v).map_err(xlsx)?;
        }
    }
    book.save(&path).map_err(xlsx)?;
    make_private(&path).map_err(io)?;
    Ok(path)
}

/// The cells of one sample nomination, in template order.
fn nomination_cells(row: u32, n: &(&str, &str, usize, &str, &str, bool)) -> Vec<String> {
    let (name, birth, unit, occupation, level, account) = *n;
    let birth = NaiveDate::parse_from_str(birth, "%Y-%m-%d").expect("a sample date");
    let id = crate::rules::id_number::make_id("370303", birth, 30 + row);
    let nominator = if unit < 2 {
        "马尚街道办事处"
    } else {
        "区总工会"
    };
    let (bank, acct) = if account {
        let body = format!("6222020003{row:08}");
        let digit = luhn_digit(&body);
        (
            "中国工商银行淄博张店支行".to_string(),
            format!("{body}{digit}"),
        )
    } else {
        (String::new(), String::new())
    };
    vec![
        nominator.to_string(),
        name.to_string(),
        id.as_str().to_string(),
        UNITS[unit].0.to_string(),
        occupation.to_string(),
        level.to_string(),
        format!("ZS2026{row:04}"),
        "主持技术革新项目，带徒传技，获市级技术能手称号".to_string(),
        format!("0533-21800{row:02}"),
        "2026-04-20至2026-04-24".to_string(),
        "2026-05-08".to_string(),
        bank,
        acct,
        String::new(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_complete() {
        let a = generate(200, 42).unwrap();
        let b = generate(200, 42).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, generate(200, 43).unwrap());
        assert_eq!(a.units.len(), 20);
        let people: HashSet<&str> = a.roster.iter().map(|r| r.id_number.as_str()).collect();
        assert_eq!(people.len(), 200);
        for r in &a.roster {
            assert!(crate::rules::IdNumber::parse(&r.id_number).is_ok());
            assert!(crate::rules::id_number::luhn_ok(&r.bank_account));
        }
        let kinds: HashSet<ChangeKind> = a
            .changes
            .iter()
            .flat_map(|(_, rows)| rows.iter().map(|r| r.kind))
            .collect();
        for k in ChangeKind::ALL {
            assert!(kinds.contains(&k), "{k} missing");
        }
        // Late reports: effective in the year before the report year.
        assert!(a
            .changes
            .iter()
            .any(|(y, rows)| rows.iter().any(|r| r.effective.year() < *y)));
        for n in [MIN_PEOPLE, 37, 1000] {
            let s = generate(n, 7).unwrap();
            let kinds: HashSet<ChangeKind> = s
                .changes
                .iter()
                .flat_map(|(_, rows)| rows.iter().map(|r| r.kind))
                .collect();
            assert!(kinds.contains(&ChangeKind::RevokedFraud), "n = {n}");
            assert!(kinds.contains(&ChangeKind::Restored), "n = {n}");
            assert!(kinds.contains(&ChangeKind::OtherAllowance), "n = {n}");
        }
        assert!(matches!(generate(5, 1), Err(SampleError::TooFew { .. })));
    }

    #[test]
    fn luhn_digits() {
        let body = "622202020011223344";
        let acc = format!("{body}{}", luhn_digit(body));
        assert!(crate::rules::id_number::luhn_ok(&acc));
    }
}
