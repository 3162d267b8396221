//! Matching a bank return file to the payments of an export: docs/rules.md, after the bank.
