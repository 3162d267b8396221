//! (Excel out: being written.)
