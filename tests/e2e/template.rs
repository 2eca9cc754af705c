//! The deploy description's cross-file checks, the ones a rule over `template.yaml` alone cannot
//! make: `samconfig.toml` against the template's parameters, each function's `Binary` against the
//! Cargo workspace, and no credentials or account ids in either file. The files are read as plain
//! data (YAML, TOML), nothing is evaluated.
//!
//! Everything about `template.yaml` itself (routes, authorizer, CORS and its Rule, IAM scope,
//! runtime, logs, outputs) is an AWS CloudFormation Guard rule in `tests/template-rules/`, run by
//! `scripts/check-template.sh`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_norway::Value;

/// A file of the repository, or of `DEPLOY_FILES_ROOT` to run these checks on a copy.
fn read(rel: &str) -> String {
    let root = std::env::var_os("DEPLOY_FILES_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    let path = root.join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `template.yaml` as YAML; the short-form intrinsics (`!Ref`, ...) stay tagged values, which
/// these checks never look into.
fn template() -> Value {
    serde_norway::from_str(&read("template.yaml")).expect("template.yaml is YAML")
}

fn toml_file(rel: &str) -> toml::Table {
    read(rel)
        .parse()
        .unwrap_or_else(|e| panic!("{rel} is not TOML: {e}"))
}

fn mapping<'a>(v: &'a Value, what: &str) -> &'a serde_norway::Mapping {
    v.as_mapping()
        .unwrap_or_else(|| panic!("{what} is not a mapping"))
}

fn table<'a>(cfg: &'a toml::Table, path: &[&str]) -> &'a toml::Table {
    let mut t = cfg;
    for key in path {
        t = t
            .get(*key)
            .and_then(toml::Value::as_table)
            .unwrap_or_else(|| panic!("samconfig.toml has no [{}]", path.join(".")));
    }
    t
}

/// `parameter_overrides` of one config env: the list form and the `K=V K=V` string form.
fn overrides(deploy: &toml::Table, env: &str) -> BTreeMap<String, String> {
    let items: Vec<String> = match deploy.get("parameter_overrides") {
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().expect("a string override").to_string())
            .collect(),
        Some(toml::Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        other => panic!("{env}: parameter_overrides is {other:?}"),
    };
    items
        .iter()
        .map(|item| {
            let (k, v) = item
                .split_once('=')
                .unwrap_or_else(|| panic!("{env}: override {item} is not Key=Value"));
            (k.trim().to_string(), v.trim().trim_matches('"').to_string())
        })
        .collect()
}

#[test]
fn every_function_builds_a_binary_of_the_workspace() {
    let t = template();
    let workspace = toml_file("Cargo.toml");
    let members: Vec<&str> = workspace["workspace"]["members"]
        .as_array()
        .expect("workspace members")
        .iter()
        .map(|m| m.as_str().expect("member path"))
        .collect();

    let mut binaries = BTreeSet::new();
    for (id, resource) in mapping(&t["Resources"], "Resources") {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let id = id.as_str().expect("logical id");
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no Metadata.BuildProperties.Binary"));
        // functions/<binary> is a workspace member that builds a binary named <binary>.
        let member = format!("functions/{binary}");
        assert!(
            members.contains(&member.as_str()),
            "{id}: the workspace has no member {member}"
        );
        let manifest = toml_file(&format!("{member}/Cargo.toml"));
        let bins: Vec<&str> = match manifest.get("bin").and_then(toml::Value::as_array) {
            Some(bins) => bins.iter().filter_map(|b| b["name"].as_str()).collect(),
            None => vec![manifest["package"]["name"].as_str().expect("package name")],
        };
        assert!(
            bins.contains(&binary),
            "{id}: {member} builds {bins:?}, not {binary}"
        );
        binaries.insert(binary.to_string());
    }
    assert_eq!(
        binaries,
        BTreeSet::from(["cancel-booking".to_string(), "list-bookings".to_string()]),
        "the functions build both binaries"
    );
}

#[test]
fn samconfig_deploys_each_environment_without_extra_input() {
    let t = template();
    let cfg = toml_file("samconfig.toml");
    let declared = mapping(&t["Parameters"], "Parameters");
    let name = |k: &Value| k.as_str().expect("parameter name").to_string();
    let all: BTreeSet<String> = declared.keys().map(name).collect();
    let required: BTreeSet<String> = declared
        .iter()
        .filter(|(_, d)| d.get("Default").is_none())
        .map(|(k, _)| name(k))
        .collect();

    let mut stacks = BTreeSet::new();
    for env in ["dev", "uat", "prod"] {
        let deploy = table(&cfg, &[env, "deploy", "parameters"]);
        let capabilities = deploy.get("capabilities").map(ToString::to_string);
        assert!(
            capabilities.is_some_and(|c| c.contains("CAPABILITY_IAM")),
            "{env}: capabilities must include CAPABILITY_IAM"
        );
        assert_eq!(
            deploy.get("resolve_s3").and_then(toml::Value::as_bool),
            Some(true),
            "{env}: resolve_s3"
        );
        let stack = deploy
            .get("stack_name")
            .or_else(|| table(&cfg, &[env, "global", "parameters"]).get("stack_name"))
            .and_then(toml::Value::as_str)
            .unwrap_or_else(|| panic!("{env}: no stack_name"));
        assert!(
            stacks.insert(stack.to_string()),
            "{env}: stack name {stack} shared with another environment"
        );

        let o = overrides(deploy, env);
        for key in o.keys() {
            assert!(
                all.contains(key),
                "{env}: override of undeclared parameter {key}"
            );
        }
        for key in &required {
            assert!(
                o.contains_key(key),
                "{env}: parameter {key} has no default and is not overridden"
            );
        }
        assert_eq!(o["OmniLabEnvironment"], env, "{env}: OmniLabEnvironment");

        // Issue 18: what the template's AlarmsReachSomeoneOutsideDev Rule would refuse, and the
        // deployment type each environment gets (AllAtOnce in dev, gradual in uat and prod).
        let deployment_type = o.get("DeploymentType").map(String::as_str);
        let allowed_types = t["Parameters"]["DeploymentType"]["AllowedValues"]
            .as_sequence()
            .expect("DeploymentType has AllowedValues");
        assert!(
            allowed_types
                .iter()
                .any(|v| v.as_str() == Some(deployment_type.unwrap_or("AllAtOnce"))),
            "{env}: DeploymentType {deployment_type:?} is not one the template allows"
        );
        if env == "dev" {
            assert_eq!(deployment_type, Some("AllAtOnce"), "{env}: DeploymentType");
        } else {
            assert!(
                deployment_type.is_some_and(|t| t != "AllAtOnce"),
                "{env}: a gradual DeploymentType (a canary or linear), not {deployment_type:?}"
            );
            let target = |k: &str| o.get(k).is_some_and(|v| !v.trim().is_empty());
            assert!(
                target("AlarmEmail") || target("AlarmTopicArn"),
                "{env}: neither AlarmEmail nor AlarmTopicArn: the template refuses a silent {env} stack"
            );
        }

        // What the template's NoWildcardOriginOutsideDev Rule would refuse (template.guard pins
        // that Rule), and more: outside dev, real https origins only.
        if env != "dev" {
            let origins: Vec<&str> = o["AllowedOrigins"].split(',').map(str::trim).collect();
            assert!(origins.iter().all(|o| !o.is_empty()), "{env}: {origins:?}");
            for origin in origins {
                assert!(!origin.contains('*'), "{env}: wildcard origin {origin}");
                assert!(
                    origin.starts_with("https://"),
                    "{env}: origin {origin} must be https"
                );
            }
        }
    }
}

#[test]
fn no_credentials_or_account_ids_in_the_deploy_files() {
    for file in ["samconfig.toml", "template.yaml"] {
        // Comments included: the whole text, not the parsed values.
        let text = read(file);
        let mut run = 0;
        for c in text.chars() {
            run = if c.is_ascii_digit() { run + 1 } else { 0 };
            assert!(
                run < 12,
                "{file} contains what looks like an AWS account id"
            );
        }
        for needle in ["AKIA", "aws_secret_access_key", "aws_access_key_id"] {
            assert!(!text.contains(needle), "{file} contains {needle}");
        }
    }
    assert!(
        !read("samconfig.toml").contains("arn:"),
        "samconfig.toml must not hard-code ARNs"
    );
}
