//! `recovery plan`, `recovery record`, `recovery list`: the use cases of recovery plans.
