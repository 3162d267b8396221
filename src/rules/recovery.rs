//! Recovery plans and repayments (分期追缴, 还款): balances, instalments, offsets.
