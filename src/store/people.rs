//! Whether the people a refused row names are on the roster: so a file's every problem shows
//! in one pass, the importer checks the person of a row refused for another cell as well.

use super::roster::load_person;
use super::{Result, RowProblem, Store};
use crate::input::PartialRow;

impl Store {
    /// For each row: 不在名册中 when the ID number is not on the roster, or the name differs
    /// from the roster's (the same messages as recording a change gives).
    pub async fn check_people(&self, rows: &[PartialRow]) -> Result<Vec<RowProblem>> {
        let mut conn = self.pool().acquire().await?;
        let mut out = Vec::new();
        for r in rows {
            match load_person(&mut conn, r.id_number.as_str()).await? {
                None => out.push(RowProblem {
                    row: Some(r.row),
                    column: "身份证号码",
                    message: format!(
                        "身份证号码{}不在名册中：请核对号码，或先导入名册",
                        r.id_number.masked()
                    ),
                }),
                Some(p) if p.name != r.name.trim() => out.push(RowProblem {
                    row: Some(r.row),
                    column: "姓名",
                    message: format!("姓名“{}”与名册中该身份证号码的姓名“{}”不符", r.name, p.name),
                }),
                Some(_) => {}
            }
        }
        Ok(out)
    }
}
