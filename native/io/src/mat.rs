//! `mat` (work in progress).
