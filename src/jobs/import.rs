//! (Import job: being written.)
