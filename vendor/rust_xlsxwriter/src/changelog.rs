//! Changes and fixes in the `rust_xlsxwriter` library: see the CHANGELOG.md of
//! rust_xlsxwriter 0.102.0 on crates.io (not vendored here).
