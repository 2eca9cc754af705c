//! Reviews the deployment description the way a reviewer would: `template.yaml` (AWS SAM) and
//! `samconfig.toml`, read as data.
//!
//! The template's short-form intrinsics (`!Ref`, `!Sub`, `!GetAtt`, `!If`, ...) are YAML tags;
//! they are normalised to their long JSON form (`{"Ref": ..}`, `{"Fn::If": [..]}`) so the checks
//! can compare expressions structurally. CloudFormation `Rules` and `Conditions` are *evaluated*
//! (a small evaluator for the rule/condition functions), so the CORS guard is tested by what it
//! does with a `*` origin, not by how it is spelled. IAM policies are checked the same way: the
//! policy is *resolved* under given parameter values (`Fn::If` branches taken, `AWS::NoValue`
//! dropped, `Ref`/`Fn::Sub` of parameters substituted) and its resources are matched like IAM
//! matches them (`*`, `?`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{Value, json};

// ------------------------------------------------------------------------------------------------
// Loading

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    let path = repo_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// YAML (with CloudFormation tags) -> JSON with long-form intrinsics.
fn to_json(value: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64().expect("YAML number"))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => panic!("unsupported mapping key in template: {other:?}"),
                };
                out.insert(key, to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_string();
            let inner = to_json(tagged.value);
            match name.as_str() {
                "Ref" => json!({ "Ref": inner }),
                "Condition" => json!({ "Condition": inner }),
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (res, attr) = s.split_once('.').expect("!GetAtt Resource.Attribute");
                        json!({ "Fn::GetAtt": [res, attr] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    }
}

fn template() -> Value {
    let text = read("template.yaml");
    let yaml: serde_norway::Value =
        serde_norway::from_str(&text).expect("template.yaml is valid YAML");
    to_json(yaml)
}

fn samconfig() -> toml::Table {
    read("samconfig.toml")
        .parse::<toml::Table>()
        .expect("samconfig.toml is valid TOML")
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().expect("Resources is a mapping")
}

fn resources_of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

fn the_http_api(t: &Value) -> (&str, &Value) {
    let apis = resources_of_type(t, "AWS::Serverless::HttpApi");
    assert_eq!(
        apis.len(),
        1,
        "exactly one AWS::Serverless::HttpApi expected, found {}",
        apis.len()
    );
    apis[0]
}

/// A function property as deployed: the function's own value, else the `Globals.Function` one.
fn effective<'a>(t: &'a Value, function: &'a Value, prop: &str) -> Option<&'a Value> {
    function["Properties"].get(prop).or_else(|| {
        t.get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|g| g.get(prop))
    })
}

/// Environment variables as deployed: `Globals.Function` merged with the function's own.
fn effective_env(t: &Value, function: &Value) -> BTreeMap<String, Value> {
    let mut vars = BTreeMap::new();
    let global = &t["Globals"]["Function"]["Environment"]["Variables"];
    let local = &function["Properties"]["Environment"]["Variables"];
    for source in [global, local] {
        if let Some(map) = source.as_object() {
            for (k, v) in map {
                vars.insert(k.clone(), v.clone());
            }
        }
    }
    vars
}

fn reference(name: &str) -> Value {
    json!({ "Ref": name })
}

fn ref_target(v: &Value) -> Option<&str> {
    v.as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("Ref"))
        .and_then(Value::as_str)
}

// ------------------------------------------------------------------------------------------------
// A small evaluator for CloudFormation Rules and Conditions.

#[derive(Clone, Debug, PartialEq)]
enum Eval {
    Bool(bool),
    Str(String),
    List(Vec<String>),
    /// `Ref` to a resource, or `AWS::NoValue`.
    Resource(String),
    NoValue,
}

type Params = BTreeMap<String, Eval>;

/// Pseudo parameters of the stack the tests "deploy" (eu-west-1, the region of the README's
/// examples; the account id is a placeholder).
const PSEUDO_PARAMETERS: [(&str, &str); 5] = [
    ("AWS::Region", "eu-west-1"),
    ("AWS::Partition", "aws"),
    ("AWS::URLSuffix", "amazonaws.com"),
    ("AWS::AccountId", "000000000000"),
    ("AWS::StackName", "omnilab-bookings-test"),
];

/// Parameter values as CloudFormation would see them: the template defaults, then `overrides`
/// (`Key=Value`, as in samconfig's `parameter_overrides`). CommaDelimitedList values are split and
/// trimmed like CloudFormation does.
fn parameter_values(t: &Value, overrides: &BTreeMap<String, String>) -> Params {
    let declared = t["Parameters"]
        .as_object()
        .expect("Parameters is a mapping");
    for key in overrides.keys() {
        assert!(
            declared.contains_key(key),
            "override of undeclared parameter {key}"
        );
    }
    let mut params = Params::new();
    for (name, decl) in declared {
        let raw = match overrides.get(name) {
            Some(v) => v.clone(),
            None => match &decl["Default"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Null => panic!("parameter {name} has no default and no value was given"),
                other => panic!("unexpected default for {name}: {other}"),
            },
        };
        let value = if decl["Type"] == "CommaDelimitedList" {
            Eval::List(raw.split(',').map(|s| s.trim().to_string()).collect())
        } else {
            Eval::Str(raw)
        };
        params.insert(name.clone(), value);
    }
    for (name, value) in PSEUDO_PARAMETERS {
        params.insert(name.to_string(), Eval::Str(value.to_string()));
    }
    params
}

fn eval(t: &Value, expr: &Value, params: &Params) -> Eval {
    match expr {
        Value::String(s) => Eval::Str(s.clone()),
        Value::Bool(b) => Eval::Bool(*b),
        Value::Number(n) => Eval::Str(n.to_string()),
        Value::Array(items) => Eval::List(
            items
                .iter()
                .map(|i| match eval(t, i, params) {
                    Eval::Str(s) => s,
                    other => panic!("list literal member is not a string: {other:?}"),
                })
                .collect(),
        ),
        Value::Object(o) if o.len() == 1 => {
            let (func, args) = o.iter().next().unwrap();
            let arg = |i: usize| eval(t, &args[i], params);
            match func.as_str() {
                "Ref" => {
                    let name = args.as_str().expect("Ref takes a name");
                    if name == "AWS::NoValue" {
                        Eval::NoValue
                    } else if let Some(v) = params.get(name) {
                        v.clone()
                    } else if resources(t).contains_key(name) {
                        Eval::Resource(name.to_string())
                    } else {
                        panic!("Ref to unknown name {name}")
                    }
                }
                "Condition" => {
                    Eval::Bool(condition(t, args.as_str().expect("condition name"), params))
                }
                "Fn::Equals" => Eval::Bool(arg(0) == arg(1)),
                "Fn::Not" => Eval::Bool(!as_bool(arg(0))),
                "Fn::And" => Eval::Bool(
                    args.as_array()
                        .unwrap()
                        .iter()
                        .all(|a| as_bool(eval(t, a, params))),
                ),
                "Fn::Or" => Eval::Bool(
                    args.as_array()
                        .unwrap()
                        .iter()
                        .any(|a| as_bool(eval(t, a, params))),
                ),
                "Fn::Contains" => {
                    let (list, item) = (as_list(arg(0)), as_str(arg(1)));
                    Eval::Bool(list.contains(&item))
                }
                "Fn::EachMemberEquals" => {
                    let (list, item) = (as_list(arg(0)), as_str(arg(1)));
                    Eval::Bool(list.iter().all(|m| *m == item))
                }
                "Fn::EachMemberIn" => {
                    let (list, allowed) = (as_list(arg(0)), as_list(arg(1)));
                    Eval::Bool(list.iter().all(|m| allowed.contains(m)))
                }
                "Fn::If" => {
                    let cond = args[0].as_str().expect("Fn::If condition name");
                    if condition(t, cond, params) {
                        arg(1)
                    } else {
                        arg(2)
                    }
                }
                "Fn::Sub" => Eval::Str(substitute(
                    t,
                    args.as_str()
                        .expect("only the one-string form of Fn::Sub is supported"),
                    params,
                )),
                other => panic!("evaluator does not support {other}"),
            }
        }
        other => panic!("cannot evaluate {other}"),
    }
}

/// `Fn::Sub`'s string form: `${Parameter}` and `${AWS::Pseudo}` become their values, `${!x}` is
/// the literal `${x}`. `${Resource}` and `${Resource.Attribute}` stay as written: their values
/// exist only once deployed.
fn substitute(t: &Value, template: &str, params: &Params) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .unwrap_or_else(|| panic!("unclosed ${{ in Fn::Sub {template:?}"))
            + start;
        let name = &rest[start + 2..end];
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str(&format!("${{{literal}}}"));
        } else if let Some(value) = params.get(name) {
            out.push_str(&as_str(value.clone()));
        } else if resources(t).contains_key(name.split('.').next().unwrap_or(name)) {
            out.push_str(&format!("${{{name}}}"));
        } else {
            panic!("Fn::Sub {template:?} refers to unknown name {name}");
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A template fragment as CloudFormation deploys it under `params`: `Fn::If` takes its branch,
/// `AWS::NoValue` removes the key or list member it stands for, `Ref`s to parameters and
/// `Fn::Sub` become their values. `Ref`s to resources and `Fn::GetAtt` stay as they are (their
/// values exist only once deployed), so they can still be compared structurally.
fn resolve(t: &Value, v: &Value, params: &Params) -> Option<Value> {
    match v {
        Value::Array(items) => Some(Value::Array(
            items.iter().filter_map(|i| resolve(t, i, params)).collect(),
        )),
        Value::Object(o) if o.len() == 1 => {
            let (func, args) = o.iter().next().unwrap();
            match func.as_str() {
                "Fn::If" => {
                    let cond = args[0].as_str().expect("Fn::If condition name");
                    let branch = if condition(t, cond, params) { 1 } else { 2 };
                    resolve(t, &args[branch], params)
                }
                "Ref" | "Fn::Sub" => match eval(t, v, params) {
                    Eval::NoValue => None,
                    Eval::Str(s) => Some(Value::String(s)),
                    Eval::List(l) => Some(json!(l)),
                    Eval::Bool(b) => Some(Value::Bool(b)),
                    Eval::Resource(_) => Some(v.clone()),
                },
                "Fn::GetAtt" => Some(v.clone()),
                f if f.starts_with("Fn::") => panic!("resolve does not support {f}"),
                // An ordinary one-key mapping, e.g. a policy Condition's {"StringEquals": {..}}.
                _ => resolve_mapping(t, o, params),
            }
        }
        Value::Object(o) => resolve_mapping(t, o, params),
        other => Some(other.clone()),
    }
}

fn resolve_mapping(
    t: &Value,
    o: &serde_json::Map<String, Value>,
    params: &Params,
) -> Option<Value> {
    Some(Value::Object(
        o.iter()
            .filter_map(|(k, v)| resolve(t, v, params).map(|v| (k.clone(), v)))
            .collect(),
    ))
}

fn condition(t: &Value, name: &str, params: &Params) -> bool {
    let expr = t["Conditions"]
        .get(name)
        .unwrap_or_else(|| panic!("unknown condition {name}"));
    as_bool(eval(t, expr, params))
}

fn as_bool(v: Eval) -> bool {
    match v {
        Eval::Bool(b) => b,
        other => panic!("expected a boolean, got {other:?}"),
    }
}

fn as_str(v: Eval) -> String {
    match v {
        Eval::Str(s) => s,
        other => panic!("expected a string, got {other:?}"),
    }
}

fn as_list(v: Eval) -> Vec<String> {
    match v {
        Eval::List(l) => l,
        Eval::Str(s) => vec![s],
        other => panic!("expected a list, got {other:?}"),
    }
}

/// The `Rules` that reject these parameter values (empty: the stack may be deployed).
fn failing_rules(t: &Value, params: &Params) -> Vec<String> {
    let mut failing = Vec::new();
    let Some(rules) = t.get("Rules").and_then(Value::as_object) else {
        return failing;
    };
    for (name, rule) in rules {
        let applies = rule
            .get("RuleCondition")
            .is_none_or(|c| as_bool(eval(t, c, params)));
        if !applies {
            continue;
        }
        for assertion in rule["Assertions"].as_array().expect("Assertions is a list") {
            if !as_bool(eval(t, &assertion["Assert"], params)) {
                failing.push(name.clone());
            }
        }
    }
    failing
}

fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Parameter values of a uat deployment: the required parameters, the defaults, then `extra`.
fn uat_params(t: &Value, extra: &[(&str, &str)]) -> Params {
    let mut o = required_params("uat", "https://www.example-brand.com");
    o.extend(overrides(extra));
    parameter_values(t, &o)
}

fn required_params(env: &str, origins: &str) -> BTreeMap<String, String> {
    overrides(&[
        ("OmniLabTenant", "example-brand"),
        ("OmniLabEnvironment", env),
        ("AllowedOrigins", origins),
        ("JwtIssuer", "https://auth.example-brand.com/"),
        ("JwtAudience", "bookings-api"),
    ])
}

// ------------------------------------------------------------------------------------------------
// IAM policies, as deployed

/// A function's policy statements as deployed under `params`. Only inline statements: a managed
/// policy grants more than one secret, and SAM's policy templates cannot also grant the suffixed
/// form of a given secret ARN.
fn deployed_statements(t: &Value, id: &str, function: &Value, params: &Params) -> Vec<Value> {
    let policies = effective(t, function, "Policies")
        .and_then(|p| resolve(t, p, params))
        .unwrap_or_else(|| panic!("{id}: no Policies"));
    let mut statements = Vec::new();
    for policy in policies
        .as_array()
        .unwrap_or_else(|| panic!("{id}: Policies must be a list"))
    {
        match policy {
            Value::Object(o) if o.contains_key("Statement") => {
                for statement in o["Statement"].as_array().expect("Statement list") {
                    assert_eq!(statement["Effect"], "Allow", "{id}: {statement}");
                    statements.push(statement.clone());
                }
            }
            other => panic!("{id}: unexpected policy {other}; only inline statements"),
        }
    }
    statements
}

fn statement_actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        other => panic!("Action {other}"),
    }
}

/// A statement's `Resource` as a list; a resource `Ref` (the stack's own secret) is one member.
fn statement_resources(statement: &Value) -> Vec<Value> {
    match &statement["Resource"] {
        Value::Array(r) => r.clone(),
        Value::Null => panic!("statement without Resource: {statement}"),
        r => vec![r.clone()],
    }
}

/// The statements allowing any action of `service` (e.g. "kms").
fn statements_for(
    t: &Value,
    id: &str,
    function: &Value,
    params: &Params,
    service: &str,
) -> Vec<Value> {
    let prefix = format!("{service}:");
    deployed_statements(t, id, function, params)
        .into_iter()
        .filter(|s| {
            statement_actions(s)
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with(&prefix))
        })
        .collect()
}

/// What a function may read from Secrets Manager under `params`: exactly one statement, allowing
/// GetSecretValue only; its resources.
fn secret_grants(t: &Value, id: &str, function: &Value, params: &Params) -> Vec<Value> {
    let statements = statements_for(t, id, function, params, "secretsmanager");
    assert_eq!(
        statements.len(),
        1,
        "{id}: exactly one Secrets Manager statement expected, found {statements:?}"
    );
    assert_eq!(
        statement_actions(&statements[0]),
        ["secretsmanager:GetSecretValue"],
        "{id}: only GetSecretValue"
    );
    statement_resources(&statements[0])
}

/// Whether an IAM resource pattern matches an ARN: `*` is any run of characters, `?` exactly one.
fn iam_matches(pattern: &[u8], arn: &[u8]) -> bool {
    match (pattern.split_first(), arn.split_first()) {
        (None, None) => true,
        (Some((b'*', rest)), _) => {
            iam_matches(rest, arn) || (!arn.is_empty() && iam_matches(pattern, &arn[1..]))
        }
        (Some((b'?', rest)), Some((_, arn_rest))) => iam_matches(rest, arn_rest),
        (Some((p, rest)), Some((a, arn_rest))) => p == a && iam_matches(rest, arn_rest),
        _ => false,
    }
}

/// Whether any of `grants` (resolved resources) lets a request on `arn` through.
fn grants_cover(grants: &[Value], arn: &str) -> bool {
    grants
        .iter()
        .filter_map(Value::as_str)
        .any(|g| iam_matches(g.as_bytes(), arn.as_bytes()))
}

/// Every `Action` / `NotAction` anywhere in a (resolved) fragment, lower-cased.
fn actions_anywhere(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                if k == "Action" || k == "NotAction" {
                    match child {
                        Value::String(a) => out.push(a.to_ascii_lowercase()),
                        Value::Array(a) => out.extend(
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_ascii_lowercase),
                        ),
                        _ => {}
                    }
                }
                actions_anywhere(child, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| actions_anywhere(c, out)),
        _ => {}
    }
}

/// Name of the parameter that feeds the HttpApi's CORS `AllowOrigins`.
fn origins_parameter(t: &Value) -> String {
    let (_, api) = the_http_api(t);
    let allow = &api["Properties"]["CorsConfiguration"]["AllowOrigins"];
    let name = ref_target(allow)
        .unwrap_or_else(|| panic!("AllowOrigins must be a Ref to a parameter, got {allow}"));
    assert_eq!(
        t["Parameters"][name]["Type"], "CommaDelimitedList",
        "{name} must be a CommaDelimitedList"
    );
    name.to_string()
}

// ------------------------------------------------------------------------------------------------
// samconfig.toml

fn deploy_section<'a>(cfg: &'a toml::Table, env: &str) -> &'a toml::Table {
    cfg.get(env)
        .and_then(|e| e.get("deploy"))
        .and_then(|d| d.get("parameters"))
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| panic!("samconfig.toml has no [{env}.deploy.parameters]"))
}

fn stack_name(cfg: &toml::Table, env: &str) -> String {
    let from = |section: &str| {
        cfg.get(env)
            .and_then(|e| e.get(section))
            .and_then(|s| s.get("parameters"))
            .and_then(|p| p.get("stack_name"))
            .and_then(toml::Value::as_str)
            .map(str::to_string)
    };
    from("deploy")
        .or_else(|| from("global"))
        .unwrap_or_else(|| panic!("no stack_name for {env}"))
}

/// `parameter_overrides` as a map; both the list form and the `K=V K=V` string form.
fn samconfig_overrides(cfg: &toml::Table, env: &str) -> BTreeMap<String, String> {
    let raw = deploy_section(cfg, env)
        .get("parameter_overrides")
        .unwrap_or_else(|| panic!("[{env}.deploy.parameters] has no parameter_overrides"));
    let items: Vec<String> = match raw {
        toml::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().expect("string override").to_string())
            .collect(),
        toml::Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
        other => panic!("unexpected parameter_overrides: {other}"),
    };
    items
        .iter()
        .map(|item| {
            let (k, v) = item
                .split_once('=')
                .unwrap_or_else(|| panic!("override {item} is not Key=Value"));
            (k.trim().to_string(), v.trim().trim_matches('"').to_string())
        })
        .collect()
}

// ================================================================================================
// Tests

#[test]
fn both_routes_are_wired_to_the_right_binary() {
    let t = template();
    let (api_id, _) = the_http_api(&t);
    let workspace: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml");
    let members: Vec<&str> = workspace["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();

    // route key -> function logical id
    let mut routes: BTreeMap<String, String> = BTreeMap::new();
    for (id, function) in resources_of_type(&t, "AWS::Serverless::Function") {
        let Some(events) = function["Properties"]
            .get("Events")
            .and_then(Value::as_object)
        else {
            continue;
        };
        for (event_name, event) in events {
            assert_eq!(
                event["Type"], "HttpApi",
                "{id}.{event_name}: only HttpApi events are expected"
            );
            let props = &event["Properties"];
            assert_eq!(
                props["ApiId"],
                reference(api_id),
                "{id}.{event_name} must attach to {api_id}"
            );
            assert!(
                props.get("Auth").is_none(),
                "{id}.{event_name} overrides Auth: every route must use the API's default JWT authorizer"
            );
            let key = format!(
                "{} {}",
                props["Method"].as_str().expect("Method").to_uppercase(),
                props["Path"].as_str().expect("Path")
            );
            assert!(
                routes.insert(key.clone(), id.to_string()).is_none(),
                "route {key} defined twice"
            );
        }
    }

    let expected = [
        ("GET /bookings", "list-bookings"),
        ("POST /bookings/{booking}/cancel", "cancel-booking"),
    ];
    assert_eq!(
        routes.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected.iter().map(|(k, _)| *k).collect::<BTreeSet<_>>(),
        "the API must expose exactly these routes"
    );

    let mut seen_functions = BTreeSet::new();
    for (route, binary) in expected {
        let id = &routes[route];
        assert!(
            seen_functions.insert(id.clone()),
            "{id} serves more than one route"
        );
        let function = &resources(&t)[id];
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id} BuildMethod"
        );
        assert_eq!(
            function["Metadata"]["BuildProperties"]["Binary"], binary,
            "{route} -> {id} must build {binary}"
        );
        let code_uri = function["Properties"]["CodeUri"].as_str().expect("CodeUri");
        assert!(
            code_uri == "." || code_uri == "./",
            "{id} CodeUri must be the workspace root, got {code_uri}"
        );

        // The binary really exists in the workspace: functions/<binary> is a member named <binary>.
        let member = format!("functions/{binary}");
        assert!(
            members.contains(&member.as_str()),
            "workspace has no member {member}"
        );
        let manifest: toml::Table = read(&format!("{member}/Cargo.toml")).parse().unwrap();
        let bins: Vec<String> = match manifest.get("bin").and_then(toml::Value::as_array) {
            Some(bins) => bins
                .iter()
                .map(|b| b["name"].as_str().unwrap().to_string())
                .collect(),
            None => vec![manifest["package"]["name"].as_str().unwrap().to_string()],
        };
        assert!(
            bins.iter().any(|b| b == binary),
            "{member} does not build a binary named {binary}: {bins:?}"
        );
    }
}

#[test]
fn jwt_authorizer_is_the_default_for_every_route() {
    let t = template();
    let (_, api) = the_http_api(&t);
    let props = &api["Properties"];
    assert!(
        props.get("DefinitionBody").is_none() && props.get("DefinitionUri").is_none(),
        "an OpenAPI definition body could declare routes that bypass the default authorizer"
    );
    let auth = &props["Auth"];
    let default = auth["DefaultAuthorizer"]
        .as_str()
        .expect("HttpApi Auth.DefaultAuthorizer");
    let authorizer = &auth["Authorizers"][default];
    assert!(
        authorizer.is_object(),
        "default authorizer {default} is not declared"
    );
    assert_eq!(
        authorizer["IdentitySource"],
        "$request.header.Authorization"
    );

    let jwt = &authorizer["JwtConfiguration"];
    let issuer = ref_target(&jwt["issuer"]).expect("issuer must come from a parameter");
    assert_eq!(t["Parameters"][issuer]["Type"], "String");
    assert!(
        t["Parameters"][issuer].get("Default").is_none(),
        "the issuer must be chosen per environment"
    );
    let audience = ref_target(&jwt["audience"]).expect("audience must come from a parameter");
    assert_eq!(
        t["Parameters"][audience]["Type"], "CommaDelimitedList",
        "audience is a list parameter"
    );
}

#[test]
fn cors_is_restricted_and_a_wildcard_origin_cannot_reach_uat_or_prod() {
    let t = template();
    let (_, api) = the_http_api(&t);
    let cors = &api["Properties"]["CorsConfiguration"];
    let set = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .expect("list")
            .iter()
            .map(|m| m.as_str().unwrap().to_ascii_lowercase())
            .collect()
    };
    assert_eq!(
        set(&cors["AllowMethods"]),
        ["get", "post", "options"].map(String::from).into()
    );
    assert_eq!(
        set(&cors["AllowHeaders"]),
        ["authorization", "content-type"].map(String::from).into()
    );
    assert_ne!(
        cors.get("AllowCredentials"),
        Some(&json!(true)),
        "bearer tokens need no CORS credentials"
    );

    let origins = origins_parameter(&t);
    if let Some(default) = t["Parameters"][&origins].get("Default") {
        assert!(
            !default.to_string().contains('*'),
            "the origins default must not be a wildcard"
        );
    }

    let with = |env: &str, value: &str| {
        let mut o = required_params(env, "https://www.example-brand.com");
        o.insert(origins.clone(), value.to_string());
        failing_rules(&t, &parameter_values(&t, &o))
    };
    for env in ["uat", "prod"] {
        for bad in [
            "*",
            "https://www.example-brand.com,*",
            "*, https://www.example-brand.com",
        ] {
            assert!(
                !with(env, bad).is_empty(),
                "{env} with origins {bad:?} must be rejected by a Rule"
            );
        }
        assert!(
            with(env, "https://www.example-brand.com").is_empty(),
            "{env} with a real origin must deploy"
        );
    }
    assert!(with("dev", "*").is_empty(), "dev may use *");
    assert!(with("dev", "http://localhost:3000").is_empty());
}

#[test]
fn samconfig_deploys_each_environment_without_extra_input() {
    let t = template();
    let cfg = samconfig();
    let origins = origins_parameter(&t);
    let declared = t["Parameters"].as_object().unwrap();
    let required: BTreeSet<&str> = declared
        .iter()
        .filter(|(_, d)| d.get("Default").is_none())
        .map(|(k, _)| k.as_str())
        .collect();

    let mut stacks = BTreeSet::new();
    for env in ["dev", "uat", "prod"] {
        let deploy = deploy_section(&cfg, env);
        let capabilities = deploy["capabilities"].to_string();
        assert!(
            capabilities.contains("CAPABILITY_IAM"),
            "{env}: capabilities must include CAPABILITY_IAM"
        );
        assert_eq!(
            deploy.get("resolve_s3").and_then(toml::Value::as_bool),
            Some(true),
            "{env}: resolve_s3"
        );
        assert!(
            stacks.insert(stack_name(&cfg, env)),
            "{env}: stack name shared with another environment"
        );

        let o = samconfig_overrides(&cfg, env);
        for name in &required {
            assert!(
                o.contains_key(*name),
                "{env}: parameter {name} has no default and is not overridden"
            );
        }
        assert_eq!(o["OmniLabEnvironment"], env, "{env}: OmniLabEnvironment");
        let params = parameter_values(&t, &o);
        assert_eq!(
            failing_rules(&t, &params),
            Vec::<String>::new(),
            "{env}: samconfig values break a Rule"
        );

        if env != "dev" {
            let list = as_list(params[&origins].clone());
            assert!(!list.is_empty());
            for origin in list {
                assert!(!origin.contains('*'), "{env}: wildcard origin {origin}");
                assert!(
                    origin.starts_with("https://"),
                    "{env}: origin {origin} must be https"
                );
            }
        }
    }

    // No credentials and no account ids in the deploy configuration or the template.
    for file in ["samconfig.toml", "template.yaml"] {
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

/// The expression naming the OmniLab secret: what the policy grants and what the function reads.
fn secret_expression_checks(t: &Value, expr: &Value, what: &str) {
    // With no OmniLabSecretArn, it is the secret this stack creates; with one, exactly that ARN.
    let arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab-AbCdEf";
    let mut created = required_params("uat", "https://www.example-brand.com");
    created.insert("OmniLabSecretArn".into(), String::new());
    let mut existing = created.clone();
    existing.insert("OmniLabSecretArn".into(), arn.into());

    let created_value = eval(t, expr, &parameter_values(t, &created));
    let Eval::Resource(secret_id) = &created_value else {
        panic!(
            "{what}: without OmniLabSecretArn it must be the created secret, got {created_value:?}"
        )
    };
    let secret = &resources(t)[secret_id];
    assert_eq!(
        secret["Type"], "AWS::SecretsManager::Secret",
        "{what} -> {secret_id}"
    );
    let cond = secret["Condition"]
        .as_str()
        .expect("the created secret must be conditional");
    assert!(condition(t, cond, &parameter_values(t, &created)));
    assert!(
        !condition(t, cond, &parameter_values(t, &existing)),
        "no secret is created when an ARN is given"
    );
    assert_eq!(
        eval(t, expr, &parameter_values(t, &existing)),
        Eval::Str(arn.into()),
        "{what} with an existing ARN"
    );
}

#[test]
fn each_function_may_read_only_its_one_secret() {
    let t = template();
    let functions = resources_of_type(&t, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 2);
    for (id, function) in &functions {
        let env = effective_env(&t, function);
        let secret_id = env
            .get("OMNILAB_SECRET_ID")
            .unwrap_or_else(|| panic!("{id}: OMNILAB_SECRET_ID"));
        secret_expression_checks(&t, secret_id, &format!("{id} OMNILAB_SECRET_ID"));

        // What the policy grants, as deployed: the stack's own secret when it creates one; a given
        // ARN as given plus that ARN with Secrets Manager's random suffix (see
        // a_secret_arn_without_its_random_suffix_is_still_readable). Either way it covers the
        // secret the function reads, and nothing else.
        let arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab-AbCdEf";
        for params in [
            uat_params(&t, &[]),
            uat_params(&t, &[("OmniLabSecretArn", arn)]),
        ] {
            let read = resolve(&t, secret_id, &params).expect("OMNILAB_SECRET_ID is set");
            let expected = match &read {
                Value::String(given) => vec![read.clone(), json!(format!("{given}-??????"))],
                _ => vec![read.clone()],
            };
            assert_eq!(
                secret_grants(&t, id, function, &params),
                expected,
                "{id}: the policy must cover the secret the function reads ({read}), nothing else"
            );
        }
    }

    // Nowhere in any policy a wildcard resource or action.
    fn walk(v: &Value, path: &str) {
        match v {
            Value::Object(o) => {
                for (k, child) in o {
                    if k == "Resource" || k == "Action" || k == "NotResource" || k == "NotAction" {
                        // `?` is an IAM wildcard too; the one allowed is the secret ARN's
                        // six-character random suffix at the very end of a resource.
                        let text = child.to_string().replace("-??????\"", "\"");
                        assert!(
                            !text.contains('*') && !text.contains('?'),
                            "wildcard in {path}.{k}: {child}"
                        );
                    }
                    walk(child, &format!("{path}.{k}"));
                }
            }
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, c)| walk(c, &format!("{path}[{i}]"))),
            _ => {}
        }
    }
    walk(&t["Resources"], "Resources");
    walk(&t["Globals"], "Globals");

    // The secret created by the stack holds placeholders only.
    let secrets = resources_of_type(&t, "AWS::SecretsManager::Secret");
    assert_eq!(secrets.len(), 1);
    let props = &secrets[0].1["Properties"];
    assert!(props.get("GenerateSecretString").is_none());
    let value: Value = serde_json::from_str(
        props["SecretString"]
            .as_str()
            .expect("literal SecretString"),
    )
    .unwrap();
    assert_eq!(
        value,
        json!({"client_id": "REPLACE_ME", "client_secret": "REPLACE_ME", "audience": "REPLACE_ME"})
    );

    let outputs = &t["Outputs"];
    secret_expression_checks(&t, &outputs["SecretArn"]["Value"], "Outputs.SecretArn");
}

#[test]
fn functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs() {
    let t = template();
    for (id, function) in resources_of_type(&t, "AWS::Serverless::Function") {
        let prop = |name: &str| {
            effective(&t, function, name)
                .cloned()
                .unwrap_or(Value::Null)
        };
        assert_eq!(prop("Runtime"), "provided.al2023", "{id} Runtime");
        assert_eq!(prop("Handler"), "bootstrap", "{id} Handler");
        assert_eq!(
            prop("Architectures"),
            json!(["arm64"]),
            "{id} Architectures"
        );
        assert_eq!(prop("MemorySize"), 128, "{id} MemorySize");
        assert_eq!(prop("Tracing"), "Active", "{id} Tracing");
        let timeout = prop("Timeout")
            .as_i64()
            .unwrap_or_else(|| panic!("{id}: Timeout must be a number"));
        assert!(
            (1..30).contains(&timeout),
            "{id}: Timeout {timeout} must stay below the 30 s API timeout"
        );

        let logging = prop("LoggingConfig");
        assert_eq!(logging["LogFormat"], "JSON", "{id} LogFormat");
        let group =
            ref_target(&logging["LogGroup"]).unwrap_or_else(|| panic!("{id}: explicit LogGroup"));
        let group = &resources(&t)[group];
        assert_eq!(group["Type"], "AWS::Logs::LogGroup");
        assert!(
            !group["Properties"]["RetentionInDays"].is_null(),
            "{id}: log group needs a retention"
        );
    }
}

#[test]
fn function_environment_is_complete() {
    let t = template();
    for (id, function) in resources_of_type(&t, "AWS::Serverless::Function") {
        let env = effective_env(&t, function);
        assert_eq!(
            env.get("OMNILAB_TENANT"),
            Some(&reference("OmniLabTenant")),
            "{id}"
        );
        assert_eq!(
            env.get("OMNILAB_ENVIRONMENT"),
            Some(&reference("OmniLabEnvironment")),
            "{id}"
        );
        assert_eq!(
            t["Parameters"]["OmniLabEnvironment"]["AllowedValues"],
            json!(["dev", "uat", "prod"])
        );

        let claim = env
            .get("EXTERNAL_ID_CLAIM")
            .and_then(ref_target)
            .expect("EXTERNAL_ID_CLAIM from a parameter");
        assert_eq!(t["Parameters"][claim]["Default"], "sub");

        // OMNILAB_API_HOST is only set when the parameter is non-empty.
        let host = env
            .get("OMNILAB_API_HOST")
            .unwrap_or_else(|| panic!("{id}: OMNILAB_API_HOST"));
        let mut o = required_params("uat", "https://www.example-brand.com");
        assert_eq!(
            eval(&t, host, &parameter_values(&t, &o)),
            Eval::NoValue,
            "{id}: unset by default"
        );
        o.insert(
            "OmniLabApiHost".into(),
            "https://example-brand.api.omnilab-uat.21-digital.com".into(),
        );
        assert_eq!(
            eval(&t, host, &parameter_values(&t, &o)),
            Eval::Str("https://example-brand.api.omnilab-uat.21-digital.com".into())
        );
    }
}

#[test]
fn stage_is_throttled_and_access_logs_carry_no_credentials() {
    let t = template();
    let (_, api) = the_http_api(&t);
    let props = &api["Properties"];

    for setting in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
        let value = &props["DefaultRouteSettings"][setting];
        let name =
            ref_target(value).unwrap_or_else(|| panic!("{setting} must come from a parameter"));
        let default = &t["Parameters"][name]["Default"];
        assert!(
            default.as_f64().is_some_and(|d| d > 0.0),
            "{setting}: sensible default, got {default}"
        );
    }

    let logs = &props["AccessLogSettings"];
    let destination = &logs["DestinationArn"]["Fn::GetAtt"];
    let group = &resources(&t)[destination[0].as_str().expect("GetAtt of a log group")];
    assert_eq!(group["Type"], "AWS::Logs::LogGroup");
    assert!(
        !group["Properties"]["RetentionInDays"].is_null(),
        "access logs need a retention"
    );

    let format: Value = serde_json::from_str(logs["Format"].as_str().expect("Format string"))
        .expect("the access log format is a JSON object");
    let format = format.as_object().expect("JSON object");
    for key in ["requestId", "routeKey", "status", "integrationLatency"] {
        assert!(format.contains_key(key), "access log lacks {key}");
    }
    for (key, value) in format {
        let v = value.as_str().unwrap_or_default().to_ascii_lowercase();
        for forbidden in [
            "authorization",
            "header",
            "claims",
            "jwt",
            "$context.authorizer.principalid",
        ] {
            assert!(
                !v.contains(forbidden),
                "access log field {key} = {v} may leak credentials"
            );
        }
    }
}

#[test]
fn outputs_expose_the_api_url() {
    let t = template();
    let (api_id, _) = the_http_api(&t);
    let url = t["Outputs"]["ApiUrl"]["Value"].to_string();
    assert!(
        url.contains(&format!("${{{api_id}}}")) || url.contains(&format!("\"Ref\":\"{api_id}\"")),
        "{url}"
    );
    assert!(url.contains("execute-api"), "{url}");
}

#[test]
fn each_function_has_its_concurrency_capped_by_a_parameter() {
    let t = template();
    let functions = resources_of_type(&t, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 2);
    for (id, function) in functions {
        // Without a cap, one abusive client could take the account's whole Lambda concurrency (and
        // flood OmniLab through the brand's one credential).
        let cap = effective(&t, function, "ReservedConcurrentExecutions")
            .unwrap_or_else(|| panic!("{id}: no ReservedConcurrentExecutions"));
        let name = ref_target(cap)
            .unwrap_or_else(|| panic!("{id}: the cap must be a parameter, got {cap}"));
        let decl = &t["Parameters"][name];
        assert_eq!(decl["Type"], "Number", "{name}");
        // 0 would be a valid reservation that throttles every request: not a usable setting.
        assert!(
            decl["MinValue"].as_i64().is_some_and(|m| m >= 1),
            "{name}: MinValue of at least 1"
        );
        // Lambda keeps 100 of an account's executions unreserved: with the default quota of 1,000,
        // both reservations together must fit in 900.
        let default = decl["Default"].as_i64().expect("a numeric default");
        assert!(
            (1..=450).contains(&default),
            "{name}: default {default} is not a sensible per-function cap"
        );

        assert_eq!(
            resolve(&t, cap, &uat_params(&t, &[])),
            Some(json!(default.to_string())),
            "{id}: deployed with the default"
        );
        assert_eq!(
            resolve(&t, cap, &uat_params(&t, &[(name, "5")])),
            Some(json!("5")),
            "{id}: deployed with the parameter's value"
        );
    }
}

#[test]
fn the_external_id_claim_is_documented_as_one_the_customer_cannot_change() {
    let t = template();
    let mut claim_params = BTreeSet::new();
    for (id, function) in resources_of_type(&t, "AWS::Serverless::Function") {
        let env = effective_env(&t, function);
        let claim = env
            .get("EXTERNAL_ID_CLAIM")
            .and_then(ref_target)
            .unwrap_or_else(|| panic!("{id}: EXTERNAL_ID_CLAIM from a parameter"));
        claim_params.insert(claim.to_string());
    }
    assert_eq!(
        claim_params.len(),
        1,
        "one claim parameter for both functions"
    );
    let name = claim_params.first().unwrap();
    let decl = &t["Parameters"][name];
    assert_eq!(decl["Default"], "sub", "{name}");

    // The claim decides whose bookings a caller sees and cancels: whoever can set it can act as
    // any customer. The deployer must be told so where they choose it.
    let description = decl["Description"]
        .as_str()
        .expect("a Description")
        .to_ascii_lowercase();
    let words: BTreeSet<&str> = description
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .collect();
    assert!(
        words.contains("sub"),
        "{name}: recommend sub: {description}"
    );
    for needle in [
        "cannot change",
        "custom attributes",
        "writable",
        "read-only",
    ] {
        assert!(
            description.contains(needle),
            "{name}: the description must say {needle:?}: {description}"
        );
    }
}

#[test]
fn a_secret_arn_without_its_random_suffix_is_still_readable() {
    let t = template();
    // The ARN as a deployer may paste it, and the real secret's full ARN (random suffix).
    let given = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab/prod";
    let actual = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab/prod-AbCdEf";
    let params = uat_params(&t, &[("OmniLabSecretArn", given)]);
    for (id, function) in resources_of_type(&t, "AWS::Serverless::Function") {
        // The function asks for the ARN as given (Secrets Manager accepts a partial ARN)...
        let env = effective_env(&t, function);
        assert_eq!(
            resolve(&t, &env["OMNILAB_SECRET_ID"], &params),
            Some(json!(given)),
            "{id}: OMNILAB_SECRET_ID"
        );
        // ...and IAM authorises the request against the secret's full ARN.
        let grants = secret_grants(&t, id, function, &params);
        assert_eq!(
            grants,
            [json!(given), json!(format!("{given}-??????"))],
            "{id}: the ARN as given and with exactly one random suffix"
        );
        assert!(grants_cover(&grants, actual), "{id}: {actual} not granted");
        assert!(grants_cover(&grants, given), "{id}: {given} not granted");
        for other in [
            "arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab/prod2-AbCdEf",
            "arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab/prod/other-AbCdEf",
            "arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab/pro-AbCdEf",
            "arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab/prod-AbCdEf-GhIjKl",
        ] {
            assert!(
                !grants_cover(&grants, other),
                "{id}: {other} must not be granted"
            );
        }
    }
    let description = t["Parameters"]["OmniLabSecretArn"]["Description"]
        .as_str()
        .unwrap();
    assert!(
        description.contains("Either form is accepted"),
        "OmniLabSecretArn: say that both forms work: {description}"
    );
}

const KMS_KEY: &str = "arn:aws:kms:eu-west-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn a_customer_managed_key_may_be_used_only_through_secrets_manager() {
    let t = template();
    let arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab/prod-AbCdEf";
    let params = uat_params(
        &t,
        &[
            ("OmniLabSecretArn", arn),
            ("OmniLabSecretKmsKeyArn", KMS_KEY),
        ],
    );
    for (id, function) in resources_of_type(&t, "AWS::Serverless::Function") {
        let kms = statements_for(&t, id, function, &params, "kms");
        assert_eq!(
            kms.len(),
            1,
            "{id}: one KMS statement expected, got {kms:?}"
        );
        assert_eq!(
            statement_actions(&kms[0]),
            ["kms:Decrypt"],
            "{id}: Decrypt only"
        );
        assert_eq!(
            statement_resources(&kms[0]),
            [json!(KMS_KEY)],
            "{id}: that key only"
        );
        assert_eq!(
            kms[0]["Condition"],
            json!({"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}),
            "{id}: only for Secrets Manager's calls in the stack's region"
        );
        // The secret grant is unchanged by the key.
        assert_eq!(
            secret_grants(&t, id, function, &params),
            [json!(arn), json!(format!("{arn}-??????"))],
            "{id}"
        );
    }
}

#[test]
fn without_a_key_no_kms_permission_exists() {
    let t = template();
    assert_eq!(
        t["Parameters"]["OmniLabSecretKmsKeyArn"]["Default"], "",
        "the KMS key is optional"
    );
    let arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab/prod-AbCdEf";
    for params in [
        uat_params(&t, &[]),
        uat_params(&t, &[("OmniLabSecretArn", arn)]),
    ] {
        let mut actions = Vec::new();
        for section in ["Globals", "Resources"] {
            let deployed = resolve(&t, &t[section], &params).expect(section);
            actions_anywhere(&deployed, &mut actions);
        }
        assert!(
            actions.iter().any(|a| a == "secretsmanager:getsecretvalue"),
            "the walk sees the policies: {actions:?}"
        );
        assert!(
            !actions.iter().any(|a| a.starts_with("kms:")),
            "no KMS permission without a key: {actions:?}"
        );
    }
}
