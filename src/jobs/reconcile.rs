//! `payrun reconcile`: the bank's return file applied to an exported run.
