//! The deploy description's cross-file checks, the ones a rule over `template.yaml` alone cannot
//! make: `samconfig.toml` against the template's parameters, each function's `Binary` against the
//! Cargo workspace, and no credentials or account ids in either file. The files are read as plain
//! data (YAML, TOML); only the route scopes' intrinsics are evaluated, by a small evaluator below.
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

        // What the template's AlarmsReachSomeoneOutsideDev Rule would refuse, and the
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

/// `scripts/sam-deploy.py`, which the pipeline and docs/deploy.md's one-off override use: the
/// config env's own list first, then the overrides (SAM takes the last of two values for one
/// name), then the other `sam deploy` options as given. A bare `--parameter-overrides` would
/// replace the list, and a first uat deploy would lose `AlarmEmail`.
#[test]
fn a_one_off_override_keeps_the_config_envs_parameters() {
    let dir = std::env::temp_dir().join(format!("sam-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    // A `sam` that prints its arguments, one per line.
    let sam = dir.join("sam");
    std::fs::write(&sam, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n").expect("the fake sam");
    std::fs::set_permissions(&sam, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("the fake sam is executable");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let run = |args: &[&str]| {
        std::process::Command::new("python3")
            .arg(root.join("scripts/sam-deploy.py"))
            .args(args)
            .env("SAM", &sam)
            .output()
            .expect("python3 runs scripts/sam-deploy.py")
    };

    let out = run(&[
        "uat",
        "OmniLabSecretArn=arn:aws:secretsmanager:eu-west-1:111122223333:secret:omnilab/uat",
        "--no-confirm-changeset",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let args: Vec<String> = String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(str::to_owned)
        .collect();
    let cfg = toml_file("samconfig.toml");
    let listed: Vec<String> = table(&cfg, &["uat", "deploy", "parameters"])["parameter_overrides"]
        .as_array()
        .expect("uat's parameter_overrides is a list")
        .iter()
        .map(|item| item.as_str().expect("a string override").to_owned())
        .collect();
    let mut expected: Vec<String> = ["deploy", "--config-env", "uat", "--parameter-overrides"]
        .map(str::to_owned)
        .to_vec();
    expected.extend(listed.iter().cloned());
    expected.push(
        "OmniLabSecretArn=arn:aws:secretsmanager:eu-west-1:111122223333:secret:omnilab/uat".into(),
    );
    expected.push("--no-confirm-changeset".into());
    assert_eq!(args, expected);
    assert!(
        listed.iter().any(|item| item.starts_with("AlarmEmail=")),
        "the uat list this keeps names AlarmEmail"
    );
    // The command it runs, on stderr, for the operator to see.
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("+ "));

    for (args, says) in [
        (
            &["staging"][..],
            "no parameter_overrides for the config env 'staging'",
        ),
        (&["uat", "AlarmEmail"][..], "not Name=value: AlarmEmail"),
    ] {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} ran sam");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The route scopes the template hands API Gateway, for each way a brand may set
/// `ListBookingsScopes` / `CancelBookingScopes`: the one place here that evaluates intrinsics,
/// because SAM forces each route's list into three slots of `!If`/`!Select` (template.yaml says
/// why) and a slip in one would require a scope nobody asked for, or drop one. The evaluator
/// knows the functions those slots use, with CloudFormation's meaning, and nothing else.
#[test]
fn route_scopes_reach_api_gateway_as_the_parameter_lists_them() {
    let t = template();
    for (route, event) in [
        ("ListBookings", "ListBookingsFunction"),
        ("CancelBooking", "CancelBookingFunction"),
    ] {
        let parameter = format!("{route}Scopes");
        let auth = &t["Resources"][event]["Properties"]["Events"][route]["Properties"]["Auth"];
        assert_eq!(
            auth["Authorizer"].as_str(),
            Some("JwtAuthorizer"),
            "{route}"
        );
        let slots = auth["AuthorizationScopes"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{route}: AuthorizationScopes is a literal list"));
        for (given, expected) in [
            ("", vec![]),
            ("bookings/read", vec!["bookings/read"]),
            ("a,b", vec!["a", "b"]),
            ("a,b,c", vec!["a", "b", "c"]),
        ] {
            // A CommaDelimitedList parameter: CloudFormation splits the value at commas.
            let list: Vec<String> = if given.is_empty() {
                vec![String::new()]
            } else {
                given.split(',').map(str::to_owned).collect()
            };
            let eval = Eval {
                template: &t,
                parameter: &parameter,
                list: &list,
            };
            let resolved: Vec<String> = slots
                .iter()
                .filter_map(|slot| match eval.value(slot) {
                    Resolved::NoValue => None,
                    Resolved::Text(text) => Some(text),
                    other => panic!("{route}: a slot resolved to {other:?}"),
                })
                .collect();
            assert_eq!(resolved, expected, "{parameter}={given:?}");
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    Text(String),
    List(Vec<String>),
    Bool(bool),
    NoValue,
}

/// CloudFormation's `Ref`, `Fn::If`, `Fn::Not`, `Fn::Equals`, `Fn::Select`, `Fn::Split` and
/// `Fn::Join`, over one CommaDelimitedList parameter's value.
struct Eval<'a> {
    template: &'a Value,
    parameter: &'a str,
    list: &'a [String],
}

impl Eval<'_> {
    fn value(&self, node: &Value) -> Resolved {
        match node {
            Value::String(text) => Resolved::Text(text.clone()),
            Value::Sequence(items) => {
                Resolved::List(items.iter().map(|item| self.text(item)).collect())
            }
            Value::Tagged(tagged) => {
                let args = &tagged.value;
                let arg = |i: usize| &args.as_sequence().expect("a list of arguments")[i];
                match tagged.tag.to_string().trim_start_matches('!') {
                    "Ref" if args.as_str() == Some(self.parameter) => {
                        Resolved::List(self.list.to_vec())
                    }
                    "Ref" if args.as_str() == Some("AWS::NoValue") => Resolved::NoValue,
                    "If" => {
                        let name = arg(0).as_str().expect("a condition name");
                        let condition = &self.template["Conditions"][name];
                        match self.value(condition) {
                            Resolved::Bool(true) => self.value(arg(1)),
                            Resolved::Bool(false) => self.value(arg(2)),
                            other => panic!("condition {name} is {other:?}"),
                        }
                    }
                    "Not" => Resolved::Bool(!self.bool(arg(0))),
                    "Equals" => Resolved::Bool(self.value(arg(0)) == self.value(arg(1))),
                    "Select" => {
                        let index = arg(0).as_u64().expect("an index") as usize;
                        let list = self.list_of(arg(1));
                        Resolved::Text(
                            list.get(index)
                                .unwrap_or_else(|| {
                                    panic!("Select {index} of {list:?} fails the deploy")
                                })
                                .clone(),
                        )
                    }
                    "Split" => Resolved::List(
                        self.text(arg(1))
                            .split(self.text(arg(0)).as_str())
                            .map(str::to_owned)
                            .collect(),
                    ),
                    "Join" => Resolved::Text(self.list_of(arg(1)).join(&self.text(arg(0)))),
                    other => panic!("the evaluator does not know {other} {args:?}"),
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    fn text(&self, node: &Value) -> String {
        match self.value(node) {
            Resolved::Text(text) => text,
            other => panic!("expected text, got {other:?}"),
        }
    }

    fn bool(&self, node: &Value) -> bool {
        match self.value(node) {
            Resolved::Bool(b) => b,
            other => panic!("expected a condition, got {other:?}"),
        }
    }

    fn list_of(&self, node: &Value) -> Vec<String> {
        match self.value(node) {
            Resolved::List(list) => list,
            other => panic!("expected a list, got {other:?}"),
        }
    }
}
