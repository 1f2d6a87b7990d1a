//! Tells the tests whether a PostgreSQL server (and `helm`) was named for them.
//!
//! Tests that need PostgreSQL carry
//! `#[cfg_attr(not(test_database), ignore = "needs PostgreSQL: …")]`: libtest counts a
//! test as skipped only when it knows so at compile time, and a test that returned
//! early without its database would be counted as passed. `.ci/run` sets
//! `SITEASSIST_TEST_DATABASE_URL`; a machine without it lists those tests as ignored,
//! with the reason, in one line each.

fn main() {
    println!("cargo::rerun-if-env-changed=SITEASSIST_TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(test_database)");
    if std::env::var_os("SITEASSIST_TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=test_database");
    }
    // The same for the Helm chart's tests, with the `helm` binary to run.
    println!("cargo::rerun-if-env-changed=SITEASSIST_TEST_HELM");
    println!("cargo::rustc-check-cfg=cfg(test_helm)");
    if std::env::var_os("SITEASSIST_TEST_HELM").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=test_helm");
    }
}
