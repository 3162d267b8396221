//! Recovery plans, repayments and balances in the ledger.
