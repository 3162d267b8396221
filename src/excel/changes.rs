//! (Excel in: being written.)
